// memory_probe: how long one dependent load from memory takes on this machine now, in ns.
//
// Follows a single random cycle through 256 MiB, each load's address the value of the load
// before it, so that nothing overlaps and every step waits for memory, as a skiplist memtable's
// search does. On a virtual machine whose host's memory is contended the figure moves by
// several times for minutes on end, and with it every figure a benchmark takes; bench scripts
// print it before and after each side of a comparison, so that a run that straddles such a
// change can be told from one that does not (docs/performance.md).
//
//   memory_probe [--loads N]      prints "<ns> ns per dependent load"
#include <cstdint>
#include <cstdio>
#include <numeric>
#include <random>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/time/clock.h"

ABSL_FLAG(int64_t, loads, 5'000'000, "Dependent loads to time");

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "Prints how long one dependent load from memory takes now, in ns (a 256 MiB pointer "
      "chase; see the header of bench/memory_probe.cc)");
  absl::ParseCommandLine(argc, argv);
  const int64_t loads = absl::GetFlag(FLAGS_loads);
  if (loads < 1) {
    std::fprintf(stderr, "memory_probe: --loads must be at least 1\n");
    return 2;
  }
  // Sattolo's shuffle: one cycle through every slot, so the chase never settles into a short
  // loop that the caches hold.
  std::vector<uint32_t> next(size_t{64} << 20);
  std::iota(next.begin(), next.end(), 0u);
  std::mt19937_64 rng(20261205);
  for (size_t i = next.size() - 1; i > 0; --i) {
    std::swap(next[i], next[std::uniform_int_distribution<size_t>(0, i - 1)(rng)]);
  }
  uint32_t at = 0;
  const absl::Time start = absl::Now();
  for (int64_t i = 0; i < loads; ++i) at = next[at];
  const double ns = absl::ToDoubleNanoseconds(absl::Now() - start) / static_cast<double>(loads);
  // (`at` printed to stderr keeps the chase from being optimized away.)
  std::fprintf(stderr, "memory_probe: ended at slot %u\n", at);
  std::printf("%.0f ns per dependent load\n", ns);
  return 0;
}
