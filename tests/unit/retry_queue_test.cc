// RetryQueue in virtual time: items come back together once the delay since the first has passed; an
// item that asks for more rounds sits out that many.
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

TEST(RetryQueueTest, AnItemAskingForMoreRoundsComesBackThatManyRoundsLater)
{
    testing::ManualTimerMaker timers;
    std::vector<std::pair<std::chrono::milliseconds, std::vector<std::string>>> rounds;
    RetryQueue retries{timers, [&](std::vector<SyncItem> due) { rounds.emplace_back(timers.now(), paths_of(due)); }};

    retries.add(item(0, "slow"), 3);
    retries.add(item(0, "fast"));
    timers.advance(RetryQueue::RetryDelay);
    ASSERT_EQ(rounds.size(), 1U);
    EXPECT_EQ(rounds[0].second, std::vector<std::string>{"fast"});
    // Still waiting, and counted as such.
    EXPECT_EQ(retries.size(), 1U);
    EXPECT_EQ(retries.count(0), 1U);
    timers.advance(RetryQueue::RetryDelay);
    EXPECT_EQ(rounds.size(), 1U);
    // Added during its wait: joins the round that is running instead of starting one of its own.
    timers.advance(1s);
    retries.add(item(0, "joins"));
    timers.advance(RetryQueue::RetryDelay - 1s);
    ASSERT_EQ(rounds.size(), 2U);
    EXPECT_EQ(rounds[1].first, 3 * RetryQueue::RetryDelay);
    EXPECT_EQ(rounds[1].second, (std::vector<std::string>{"slow", "joins"}));
    EXPECT_EQ(retries.size(), 0U);
    timers.advance(1min);
    EXPECT_EQ(rounds.size(), 2U);
}

TEST(RetryQueueTest, BackoffDoublesUpToItsCap)
{
    EXPECT_EQ(RetryQueue::backoff_rounds(0), 1U);
    EXPECT_EQ(RetryQueue::backoff_rounds(1), 1U);
    EXPECT_EQ(RetryQueue::backoff_rounds(2), 2U);
    EXPECT_EQ(RetryQueue::backoff_rounds(3), 4U);
    EXPECT_EQ(RetryQueue::backoff_rounds(4), RetryQueue::MaxBackoffRounds);
    EXPECT_EQ(RetryQueue::backoff_rounds(40), RetryQueue::MaxBackoffRounds);
}

TEST(RetryQueueTest, TakenItemsLeaveTheQueueInOrder)
{
    testing::ManualTimerMaker timers;
    std::vector<std::string> due_paths;
    RetryQueue retries{timers, [&](std::vector<SyncItem> due) { due_paths = paths_of(due); }};
    retries.add(item(0, "a"), 4);
    retries.add(item(1, "b"));
    retries.add(item(0, "c"));
    EXPECT_TRUE(retries.any_of([](const SyncItem& waiting) { return waiting.path == "c"; }));
    EXPECT_EQ(paths_of(retries.take_if([](const SyncItem& waiting) { return waiting.folder == 0; })),
              (std::vector<std::string>{"a", "c"}));
    EXPECT_FALSE(retries.any_of([](const SyncItem& waiting) { return waiting.folder == 0; }));
    timers.advance(RetryQueue::RetryDelay);
    EXPECT_EQ(due_paths, std::vector<std::string>{"b"});
}

} // namespace
} // namespace minisync::agent
