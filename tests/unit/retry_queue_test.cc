// RetryQueue in virtual time: items come back together once the delay since the first has passed.
#include "retry_queue.h"

#include "manual_timer.h"

#include <gtest/gtest.h>

namespace minisync::agent {
namespace {

using namespace std::chrono_literals;

SyncItem item(std::size_t folder, std::string path)
{
    SyncItem item;
    item.folder = folder;
    item.path = std::move(path);
    return item;
}

std::vector<std::string> paths_of(const std::vector<SyncItem>& items)
{
    std::vector<std::string> paths;
    for (const SyncItem& item : items) {
        paths.push_back(item.path);
    }
    return paths;
}

TEST(RetryQueueTest, ItemsComeBackTogetherOnceTheDelaySinceTheFirstHasPassed)
{
    testing::ManualTimerMaker timers;
    std::vector<std::vector<std::string>> rounds;
    RetryQueue retries{timers, [&](std::vector<SyncItem> due) { rounds.push_back(paths_of(due)); }};

    retries.add(item(0, "a"));
    timers.advance(3s);
    retries.add(item(1, "b"));
    EXPECT_EQ(retries.size(), 2U);
    EXPECT_EQ(retries.count(0), 1U);
    EXPECT_EQ(retries.count(1), 1U);
    timers.advance(RetryQueue::RetryDelay - 3s - 1ms);
    EXPECT_TRUE(rounds.empty());
    timers.advance(1ms);
    ASSERT_EQ(rounds.size(), 1U);
    EXPECT_EQ(rounds[0], (std::vector<std::string>{"a", "b"}));
    EXPECT_EQ(retries.size(), 0U);

    // Nothing waits, so nothing fires; the next item starts a delay of its own.
    timers.advance(1min);
    EXPECT_EQ(rounds.size(), 1U);
    retries.add(item(0, "c"));
    timers.advance(RetryQueue::RetryDelay);
    ASSERT_EQ(rounds.size(), 2U);
    EXPECT_EQ(rounds[1], std::vector<std::string>{"c"});
}

TEST(RetryQueueTest, ErasedItemsAreNotHandedBack)
{
    testing::ManualTimerMaker timers;
    std::vector<std::string> due_paths;
    RetryQueue retries{timers, [&](std::vector<SyncItem> due) { due_paths = paths_of(due); }};
    retries.add(item(0, "keep"));
    retries.add(item(1, "drop"));
    retries.erase_if([](const SyncItem& waiting) { return waiting.folder == 1; });
    timers.advance(RetryQueue::RetryDelay);
    EXPECT_EQ(due_paths, std::vector<std::string>{"keep"});
}

} // namespace
} // namespace minisync::agent
