// Tests for the worker pool's strands: tasks of one strand run in posting order, and a held task keeps
// everything after it waiting until its work resumes the strand, from whichever thread finishes it.
#include "worker_pool.h"

#include <gtest/gtest.h>

#include <chrono>
#include <future>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace minisync {
namespace {

using namespace std::chrono_literals;

class Log {
public:
    void add(std::string entry)
    {
        const std::lock_guard lock{mutex_};
        entries_.push_back(std::move(entry));
    }
    std::vector<std::string> entries()
    {
        const std::lock_guard lock{mutex_};
        return entries_;
    }

private:
    std::mutex mutex_;
    std::vector<std::string> entries_;
};

TEST(StrandTest, TasksRunInPostingOrder)
{
    WorkerPool pool{4};
    const auto strand = Strand::create(pool);
    Log log;
    std::promise<void> finished;
    for (int i = 0; i < 100; ++i) {
        strand->post([&log, i] { log.add(std::to_string(i)); });
    }
    strand->post([&finished] { finished.set_value(); });
    ASSERT_EQ(finished.get_future().wait_for(10s), std::future_status::ready);
    const std::vector<std::string> entries = log.entries();
    ASSERT_EQ(entries.size(), 100U);
    for (int i = 0; i < 100; ++i) {
        EXPECT_EQ(entries[static_cast<std::size_t>(i)], std::to_string(i));
    }
}

TEST(StrandTest, NothingRunsAfterAHeldTaskUntilItsWorkResumesTheStrand)
{
    WorkerPool pool{4};
    const auto strand = Strand::create(pool);
    Log log;
    std::promise<Strand::Resume> handed_on;
    std::promise<void> finished;
    strand->post_held([&log, &handed_on](Strand::Resume resume) {
        log.add("held");
        handed_on.set_value(std::move(resume));
    });
    strand->post([&log] { log.add("after"); });
    strand->post([&finished] { finished.set_value(); });

    Strand::Resume resume = handed_on.get_future().get();
    std::future<void> done = finished.get_future();
    // Three idle workers could run the next task at once; none may while the held work is out.
    EXPECT_EQ(done.wait_for(200ms), std::future_status::timeout);
    EXPECT_EQ(log.entries(), std::vector<std::string>{"held"});

    std::thread elsewhere{[&log, resume = std::move(resume)] {
        log.add("resumed");
        resume();
    }};
    elsewhere.join();
    ASSERT_EQ(done.wait_for(10s), std::future_status::ready);
    EXPECT_EQ(log.entries(), (std::vector<std::string>{"held", "resumed", "after"}));
}

TEST(StrandTest, AStrandResumedWithAnEmptyQueueTakesNewTasks)
{
    WorkerPool pool{2};
    const auto strand = Strand::create(pool);
    std::promise<void> resumed;
    strand->post_held([&resumed](Strand::Resume resume) {
        resume();
        resumed.set_value();
    });
    ASSERT_EQ(resumed.get_future().wait_for(10s), std::future_status::ready);
    std::promise<void> later;
    strand->post([&later] { later.set_value(); });
    EXPECT_EQ(later.get_future().wait_for(10s), std::future_status::ready);
}

} // namespace
} // namespace minisync
