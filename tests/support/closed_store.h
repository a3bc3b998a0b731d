// Edits a closed store with a plain RocksDB handle, as an attacker with file access or a
// damaged disk would: for tests that tamper with what vigil wrote.
#ifndef VIGIL_TESTS_SUPPORT_CLOSED_STORE_H_
#define VIGIL_TESTS_SUPPORT_CLOSED_STORE_H_

#include <map>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "rocksdb/db.h"

namespace vigil::testing {

// Opens the closed store at `path` with every column family, calls
// edit(db, families) with the handles by family name ("audit", "meta", ...), and closes it.
template <typename Edit>
void EditClosedStore(const std::string& path, Edit edit) {
  std::vector<std::string> names;
  ASSERT_TRUE(rocksdb::DB::ListColumnFamilies(rocksdb::DBOptions(), path, &names).ok());
  std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
  descriptors.reserve(names.size());
  for (const std::string& name : names) {
    descriptors.emplace_back(name, rocksdb::ColumnFamilyOptions());
  }
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* db = nullptr;
  ASSERT_TRUE(rocksdb::DB::Open(rocksdb::DBOptions(), path, descriptors, &handles, &db).ok());
  std::map<std::string, rocksdb::ColumnFamilyHandle*> families;
  for (size_t i = 0; i < names.size(); ++i) families[names[i]] = handles[i];
  edit(db, families);
  for (rocksdb::ColumnFamilyHandle* handle : handles) db->DestroyColumnFamilyHandle(handle);
  delete db;
}

}  // namespace vigil::testing

#endif  // VIGIL_TESTS_SUPPORT_CLOSED_STORE_H_
