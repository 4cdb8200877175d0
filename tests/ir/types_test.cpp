// Shape arithmetic ("[types]"): element counts checked for overflow, the 2^40 limit.
#include "ir/types.hpp"
#include <catch2/catch.hpp>
#include <climits>

using namespace kiln;

TEST_CASE("element counts are checked for overflow", "[types]") {
  CHECK(checked_num_elements({}) == 1);
  CHECK(checked_num_elements({3, 4, 5}) == 60);
  CHECK(checked_num_elements({1048576, 1048576}) == kMaxElements);
  CHECK(checked_num_elements({3, 0, 5}) == 0);
  CHECK_FALSE(checked_num_elements({2, -1}));
  // 2^96 wraps to 0 in int64 arithmetic: the shape the sweep found accepted.
  CHECK_FALSE(checked_num_elements({4294967296, 4294967296, 4294967296}));
  CHECK_FALSE(checked_num_elements({INT64_MAX, 2}));
  CHECK(checked_mul(INT64_MAX, 1) == INT64_MAX);
  CHECK_FALSE(checked_mul(int64_t(1) << 32, int64_t(1) << 31));
  CHECK(num_elements({4294967296, 4294967296, 4294967296}) == INT64_MAX);  // saturates, no UB
}
