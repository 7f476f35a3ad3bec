// ReconnectBackoff: each wait within half and all of its step, steps doubling to the cap, and back to the
// first step once connected.
#include "reconnect_backoff.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <vector>

namespace minisync::agent {
namespace {

using namespace std::chrono_literals;

TEST(ReconnectBackoffTest, WaitsDoubleWithJitterUpToTheCap)
{
    for (std::uint32_t seed = 1; seed <= 50; ++seed) {
        ReconnectBackoff backoff{seed};
        std::chrono::milliseconds step = ReconnectBackoff::FirstStep;
        for (int attempt = 0; attempt < 12; ++attempt) {
            const std::chrono::milliseconds wait = backoff.next();
            EXPECT_GE(wait, step / 2) << "seed " << seed << " attempt " << attempt;
            EXPECT_LE(wait, step) << "seed " << seed << " attempt " << attempt;
            step = std::min(step * 2, ReconnectBackoff::MaxStep);
        }
        EXPECT_EQ(step, 30s); // reached within the attempts above
    }
}

TEST(ReconnectBackoffTest, TheJitterSpreadsAgentsThatFailedTogether)
{
    std::vector<std::chrono::milliseconds> waits;
    for (std::uint32_t seed = 1; seed <= 20; ++seed) {
        ReconnectBackoff backoff{seed};
        for (int attempt = 0; attempt < 6; ++attempt) {
            backoff.next();
        }
        waits.push_back(backoff.next()); // the step is 16 s here
    }
    std::sort(waits.begin(), waits.end());
    EXPECT_GE(waits.back() - waits.front(), 1s) << "twenty agents would come back within a second";
}

TEST(ReconnectBackoffTest, AConnectionStartsTheStepsOver)
{
    ReconnectBackoff backoff{7};
    for (int attempt = 0; attempt < 10; ++attempt) {
        backoff.next();
    }
    backoff.reset();
    EXPECT_LE(backoff.next(), ReconnectBackoff::FirstStep);
}

} // namespace
} // namespace minisync::agent
