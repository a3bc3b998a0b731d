// Runs a libFuzzer target without libFuzzer (for GCC builds and the default test run): every
// file given on the command line, then a deterministic stream of random and mutated inputs.
// With VIGIL_FUZZ=ON and clang, the same targets link against libFuzzer instead.
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

int main(int argc, char** argv) {
  std::vector<std::string> corpus;
  for (int i = 1; i < argc; ++i) {
    std::ifstream in(argv[i], std::ios::binary);
    std::stringstream buffer;
    buffer << in.rdbuf();
    corpus.push_back(buffer.str());
  }
  corpus.push_back("");
  corpus.push_back("DC 1|officer|wessex");
  corpus.push_back("127.0.0.1:7420");
  corpus.push_back(std::string("\x01\x80\x00\x00\x00\x00\x00\x00\x01\x03id", 12));
  for (const std::string& input : corpus) {
    LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(input.data()), input.size());
  }
  const char* env = std::getenv("VIGIL_FUZZ_ITERATIONS");
  const long iterations = env != nullptr ? std::atol(env) : 200000;
  std::mt19937_64 rng(12345);
  for (long i = 0; i < iterations; ++i) {
    std::string input = corpus[rng() % corpus.size()];
    const int edits = 1 + static_cast<int>(rng() % 8);
    for (int e = 0; e < edits; ++e) {
      const uint64_t op = rng() % 4;
      if (op == 0 || input.empty()) {
        input.insert(input.begin() + static_cast<long>(input.empty() ? 0 : rng() % input.size()),
                     static_cast<char>(rng()));
      } else if (op == 1) {
        input[rng() % input.size()] = static_cast<char>(rng());
      } else if (op == 2) {
        input.erase(rng() % input.size(), 1 + rng() % 4);
      } else {
        input.append(input.substr(0, rng() % (input.size() + 1)));
      }
    }
    if (input.size() > 4096) input.resize(4096);
    LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(input.data()), input.size());
  }
  std::printf("%ld inputs run without a crash\n", iterations + static_cast<long>(corpus.size()));
  return 0;
}
