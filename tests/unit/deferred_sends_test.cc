// DeferredSends in virtual time: when created and growing files come due, and what a close, a deletion or
// a move takes away.
#include "deferred_sends.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace minisync::agent {
namespace {

using namespace std::chrono_literals;
using Clock = DeferredSends::Clock;

const Clock::time_point Start{};

std::vector<std::string> paths_of(const std::vector<DeferredSends::Due>& due)
{
    std::vector<std::string> paths;
    for (const DeferredSends::Due& entry : due) {
        paths.push_back(entry.path);
    }
    return paths;
}

TEST(DeferredSendsTest, ACreatedFileComesDueAfterTheSettleTime)
{
    DeferredSends sends;
    EXPECT_TRUE(sends.empty());
    EXPECT_EQ(sends.earliest(), std::nullopt);
    sends.defer(0, "new.txt", false, Start);
    EXPECT_EQ(sends.earliest(), Start + DeferredSends::CreateSettle);
    EXPECT_TRUE(sends.take_due(Start + DeferredSends::CreateSettle - 1ms).empty());
    const auto due = sends.take_due(Start + DeferredSends::CreateSettle);
    ASSERT_EQ(due.size(), 1U);
    EXPECT_EQ(due[0].path, "new.txt");
    EXPECT_FALSE(due[0].growing);
    EXPECT_TRUE(sends.empty());
}

// A file that keeps being written is sent every interval, not on every write: later writes do not push
// its time back, or a file written without pause would never be sent.
TEST(DeferredSendsTest, AGrowingFileComesDueOnceAnIntervalHowOftenItIsWritten)
{
    DeferredSends sends;
    sends.defer(0, "app.log", true, Start);
    for (auto at = Start; at < Start + DeferredSends::GrowingInterval; at += 100ms) {
        sends.defer(0, "app.log", true, at);
        EXPECT_TRUE(sends.take_due(at).empty());
    }
    const auto due = sends.take_due(Start + DeferredSends::GrowingInterval);
    ASSERT_EQ(due.size(), 1U);
    EXPECT_TRUE(due[0].growing);
    sends.defer(0, "app.log", true, Start + DeferredSends::GrowingInterval + 1ms);
    EXPECT_EQ(sends.earliest(), Start + 2 * DeferredSends::GrowingInterval + 1ms);
}

TEST(DeferredSendsTest, ACreatedFileThatIsBeingWrittenWaitsTheGrowingInterval)
{
    DeferredSends sends;
    sends.defer(0, "big.iso", false, Start);
    sends.defer(0, "big.iso", true, Start + 50ms);
    EXPECT_TRUE(sends.take_due(Start + DeferredSends::CreateSettle).empty());
    const auto due = sends.take_due(Start + 50ms + DeferredSends::GrowingInterval);
    ASSERT_EQ(due.size(), 1U);
    EXPECT_TRUE(due[0].growing);
    // A creation reported again does not shorten a growing file's wait.
    sends.defer(0, "big.iso", true, Start);
    sends.defer(0, "big.iso", false, Start + 1ms);
    EXPECT_EQ(sends.earliest(), Start + DeferredSends::GrowingInterval);
}

TEST(DeferredSendsTest, DropTakesThePathAndWhatIsBelowItButNoSibling)
{
    DeferredSends sends;
    for (const char* path : {"a", "a b", "a/x", "a/y/z", "a0", "a.txt", "b/a"}) {
        sends.defer(0, path, false, Start);
    }
    sends.defer(1, "a/x", false, Start);
    sends.drop(0, "a");
    EXPECT_EQ(paths_of(sends.take_due(Start + 1s)), (std::vector<std::string>{"a b", "a.txt", "a0", "b/a", "a/x"}));
}

TEST(DeferredSendsTest, DroppingAFolderForgetsOnlyItsPaths)
{
    DeferredSends sends;
    sends.defer(0, "keep", false, Start);
    sends.defer(1, "gone", false, Start);
    sends.defer(1, "gone/too", true, Start);
    sends.drop_folder(1);
    const auto due = sends.take_due(Start + 1h);
    ASSERT_EQ(due.size(), 1U);
    EXPECT_EQ(due[0].folder, 0U);
    EXPECT_EQ(due[0].path, "keep");
}

TEST(DeferredSendsTest, OnlyWhatIsDueIsTakenAndTheEarliestOfTheRestRemains)
{
    DeferredSends sends;
    sends.defer(0, "log", true, Start);
    sends.defer(0, "created", false, Start + 10ms);
    EXPECT_EQ(sends.earliest(), Start + 10ms + DeferredSends::CreateSettle);
    EXPECT_EQ(paths_of(sends.take_due(Start + 500ms)), std::vector<std::string>{"created"});
    EXPECT_EQ(sends.earliest(), Start + DeferredSends::GrowingInterval);
    EXPECT_FALSE(sends.empty());
}

} // namespace
} // namespace minisync::agent
