// Tests for a directory-entry request (REMOVE, MAKE_DIR, MAKE_SYMLINK, RENAME): its state, its report,
// and that its work waits for the strands it must run after.
#include "entry_change.h"

#include "request_fixture.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <future>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace minisync::server {
namespace {

using namespace std::chrono_literals;

class EntryChangeTest : public test::RequestFixture {
protected:
    void TearDown() override
    {
        gate_.set_value(); // no worker left blocked when the pool joins
        RequestFixture::TearDown();
    }

    std::promise<void> gate_;
};

TEST_F(EntryChangeTest, ApplyRunsTheWorkAndReportsItsResult)
{
    EntryChange entry{admission("dir")};
    EXPECT_EQ(entry.state(), EntryChange::State::Admitted);
    test::Reported<Result<void>> applied;
    entry.apply([] { return Result<void>{Error{protocol::ErrorCode::NotFound, "gone"}}; }, applied.reporter());
    EXPECT_EQ(entry.state(), EntryChange::State::Applying);
    const auto outcome = applied.wait();
    ASSERT_TRUE(outcome) << "no report";
    ASSERT_FALSE(outcome->ok());
    EXPECT_EQ(outcome->error().code, protocol::ErrorCode::NotFound);
}

TEST_F(EntryChangeTest, TheWorkWaitsForTheStrandsItRunsAfter)
{
    std::optional<HeldPath> below = HeldPath::acquire(locks_, key_of("dir/file"), false);
    ASSERT_TRUE(below);
    std::atomic<bool> earlier_done{false};
    below->strand()->post([gate = gate_.get_future().share(), &earlier_done] {
        gate.wait();
        earlier_done = true;
    });

    EntryChange entry{admission("dir")};
    entry.run_after({below->strand()});
    test::Reported<bool> applied;
    auto report = applied.reporter();
    entry.apply(
        [&earlier_done] {
            return earlier_done ? Result<void>{} : Result<void>{Error{protocol::ErrorCode::Internal, "early"}};
        },
        [report, &earlier_done](Result<void> outcome) { report(outcome.ok() && earlier_done); });
    EXPECT_FALSE(applied.wait(100ms)) << "ran while the strand it waits for was busy";
    gate_.set_value();
    gate_ = std::promise<void>{};
    const auto in_order = applied.wait();
    ASSERT_TRUE(in_order) << "no report";
    EXPECT_TRUE(*in_order);
}

} // namespace
} // namespace minisync::server
