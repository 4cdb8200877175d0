// Catch2's main for the kiln test binary.
#define CATCH_CONFIG_MAIN
#include <catch2/catch.hpp>
