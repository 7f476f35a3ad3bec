// RenameFallback: after a rename the server did not apply, the old path is removed only once a comparison
// finds the new path in place; comparisons are repeated once the new path settles, a bounded number of
// times, after which the old path is left on the server.
#include "rename_fallback.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

namespace minisync::agent {
namespace {

class RenameFallbackTest : public ::testing::Test {
protected:
    static SyncItem failed_rename()
    {
        SyncItem rename;
        rename.kind = SyncItem::Kind::Rename;
        rename.folder = 2;
        rename.from = "old";
        rename.path = "new";
        rename.tree = true;
        return rename;
    }

    // The test answers each comparison and each wait by calling what was stored here.
    std::vector<std::string> compared_paths_;
    std::function<void(bool)> pending_comparison_;
    std::vector<std::string> settled_paths_;
    std::function<void()> pending_settle_;
    std::vector<SyncItem> removals_;
    const std::string folder_name_ = "docs";

    RenameFallback fallback_{
        [this](std::size_t folder, std::string path, std::function<void(bool)> done) {
            EXPECT_EQ(folder, 2U);
            compared_paths_.push_back(std::move(path));
            pending_comparison_ = std::move(done);
        },
        [this](std::size_t folder, std::string path, std::function<void()> done) {
            EXPECT_EQ(folder, 2U);
            settled_paths_.push_back(std::move(path));
            pending_settle_ = std::move(done);
        },
        [this](SyncItem removal) { removals_.push_back(std::move(removal)); },
        [this](std::size_t) -> const std::string& { return folder_name_; }};

    void answer_comparison(bool in_place)
    {
        ASSERT_TRUE(pending_comparison_);
        std::exchange(pending_comparison_, nullptr)(in_place);
    }
    void settle()
    {
        ASSERT_TRUE(pending_settle_);
        std::exchange(pending_settle_, nullptr)();
    }
};

TEST_F(RenameFallbackTest, TheOldPathIsRemovedOnlyAfterAComparisonFindsTheNewOneInPlace)
{
    fallback_.start(failed_rename());
    EXPECT_EQ(compared_paths_, std::vector<std::string>{"new"});
    answer_comparison(false); // what differs is being sent
    EXPECT_TRUE(removals_.empty());
    EXPECT_EQ(settled_paths_, std::vector<std::string>{"new"});
    settle();
    EXPECT_EQ(compared_paths_, (std::vector<std::string>{"new", "new"}));
    EXPECT_TRUE(removals_.empty());
    answer_comparison(true);
    ASSERT_EQ(removals_.size(), 1U);
    EXPECT_EQ(removals_[0].kind, SyncItem::Kind::Remove);
    EXPECT_EQ(removals_[0].folder, 2U);
    EXPECT_EQ(removals_[0].path, "old");
    EXPECT_TRUE(removals_[0].tree);
    EXPECT_FALSE(pending_settle_);
}

TEST_F(RenameFallbackTest, ANewPathAlreadyInPlaceRemovesTheOldOneAtOnce)
{
    SyncItem rename = failed_rename();
    rename.tree = false;
    fallback_.start(rename);
    answer_comparison(true);
    ASSERT_EQ(removals_.size(), 1U);
    EXPECT_FALSE(removals_[0].tree);
    EXPECT_TRUE(settled_paths_.empty());
}

TEST_F(RenameFallbackTest, ANewPathNeverFoundInPlaceLeavesTheOldOneOnTheServer)
{
    fallback_.start(failed_rename());
    for (std::uint32_t comparison = 1; comparison < RenameFallback::MaxComparisons; ++comparison) {
        answer_comparison(false);
        settle();
    }
    answer_comparison(false);
    EXPECT_EQ(compared_paths_.size(), RenameFallback::MaxComparisons);
    EXPECT_TRUE(removals_.empty());
    EXPECT_FALSE(pending_settle_);
    EXPECT_FALSE(pending_comparison_);
}

} // namespace
} // namespace minisync::agent
