#include <gtest/gtest.h>

#include <string>

#include "crmcore/version.hpp"

TEST(Version, IsSemantic) { EXPECT_EQ(std::string(crmcore::version()).substr(0, 2), "0."); }
