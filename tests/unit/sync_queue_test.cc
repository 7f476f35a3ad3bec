// Tests for the sync queue: FIFO order, coalescing by (folder, path), the verify_first and kind merge
// rules, and resume hints surviving a merge.
#include "sync_queue.h"

#include <gtest/gtest.h>

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

namespace minisync::agent {
namespace {

SyncItem upload(std::string path, bool verify_first = false, std::size_t folder = 0)
{
    SyncItem item;
    item.folder = folder;
    item.path = std::move(path);
    item.kind = SyncItem::Kind::Upload;
    item.verify_first = verify_first;
    return item;
}

SyncItem removal(std::string path, std::size_t folder = 0)
{
    SyncItem item;
    item.folder = folder;
    item.path = std::move(path);
    item.kind = SyncItem::Kind::Remove;
    return item;
}

std::vector<std::string> drain_paths(SyncQueue& queue)
{
    std::vector<std::string> paths;
    while (std::optional<SyncItem> item = queue.pop()) {
        paths.push_back(item->path);
    }
    return paths;
}

TEST(SyncQueueTest, EmptyQueuePopsNothing)
{
    SyncQueue queue;
    EXPECT_TRUE(queue.empty());
    EXPECT_EQ(queue.size(), 0U);
    EXPECT_EQ(queue.pop(), std::nullopt);
}

TEST(SyncQueueTest, PopsInArrivalOrder)
{
    SyncQueue queue;
    for (const char* path : {"c", "a", "b", "dir/z", "dir/a"}) {
        queue.push(upload(path));
    }
    EXPECT_EQ(queue.size(), 5U);
    EXPECT_FALSE(queue.empty());
    EXPECT_EQ(drain_paths(queue), (std::vector<std::string>{"c", "a", "b", "dir/z", "dir/a"}));
    EXPECT_TRUE(queue.empty());
    EXPECT_EQ(queue.pop(), std::nullopt);
}

TEST(SyncQueueTest, RepeatedPushCoalescesAndKeepsTheFirstPosition)
{
    SyncQueue queue;
    queue.push(upload("a"));
    queue.push(upload("b"));
    queue.push(upload("a"));
    queue.push(upload("c"));
    queue.push(upload("a"));
    queue.push(upload("b"));
    EXPECT_EQ(queue.size(), 3U);
    EXPECT_EQ(drain_paths(queue), (std::vector<std::string>{"a", "b", "c"}));
}

TEST(SyncQueueTest, PathIsQueuedAgainAfterItWasPopped)
{
    SyncQueue queue;
    queue.push(upload("a"));
    queue.push(upload("b"));
    ASSERT_EQ(queue.pop()->path, "a");
    queue.push(upload("a"));
    EXPECT_EQ(queue.size(), 2U);
    EXPECT_EQ(drain_paths(queue), (std::vector<std::string>{"b", "a"}));
}

TEST(SyncQueueTest, SamePathInDifferentFoldersIsNotCoalesced)
{
    SyncQueue queue;
    queue.push(upload("x", false, 0));
    queue.push(upload("x", false, 1));
    queue.push(upload("x", false, 0));
    ASSERT_EQ(queue.size(), 2U);
    EXPECT_EQ(queue.pop()->folder, 0U);
    EXPECT_EQ(queue.pop()->folder, 1U);
}

// The key must not be ambiguous where a folder index's digits meet a path that starts with digits.
TEST(SyncQueueTest, FolderAndPathDoNotRunTogether)
{
    SyncQueue queue;
    queue.push(upload("23", false, 1));
    queue.push(upload("3", false, 12));
    queue.push(upload("", false, 123));
    EXPECT_EQ(queue.size(), 3U);
}

TEST(SyncQueueTest, PathsAreComparedAsBytes)
{
    SyncQueue queue;
    queue.push(upload(std::string{"a\0b", 3}));
    queue.push(upload(std::string{"a\0c", 3}));
    queue.push(upload("a"));
    queue.push(upload("A"));
    queue.push(upload("a\n"));
    EXPECT_EQ(queue.size(), 5U);
    EXPECT_EQ(queue.pop()->path, std::string("a\0b", 3));
}

struct VerifyMerge {
    bool queued;
    bool pushed;
    bool expected;
};

TEST(SyncQueueTest, VerifyFirstSurvivesOnlyWhenBothPushesAskForIt)
{
    for (const VerifyMerge& c : {VerifyMerge{true, true, true}, VerifyMerge{true, false, false},
                                 VerifyMerge{false, true, false}, VerifyMerge{false, false, false}}) {
        SyncQueue queue;
        queue.push(upload("f", c.queued));
        queue.push(upload("f", c.pushed));
        ASSERT_EQ(queue.size(), 1U);
        const std::optional<SyncItem> item = queue.pop();
        ASSERT_TRUE(item.has_value());
        EXPECT_EQ(item->verify_first, c.expected) << "queued " << c.queued << " pushed " << c.pushed;
    }
}

// Once an event has cleared verify_first, a later scan result cannot set it again.
TEST(SyncQueueTest, ClearedVerifyFirstStaysCleared)
{
    SyncQueue queue;
    queue.push(upload("f", true));
    queue.push(upload("f", false));
    queue.push(upload("f", true));
    EXPECT_FALSE(queue.pop()->verify_first);
}

TEST(SyncQueueTest, RemoveAfterUploadReplacesTheKind)
{
    SyncQueue queue;
    queue.push(upload("a", true));
    queue.push(upload("b"));
    queue.push(removal("a"));
    ASSERT_EQ(queue.size(), 2U);
    const std::optional<SyncItem> first = queue.pop();
    ASSERT_TRUE(first.has_value());
    EXPECT_EQ(first->path, "a");
    EXPECT_EQ(first->kind, SyncItem::Kind::Remove);
    EXPECT_FALSE(first->verify_first);
    EXPECT_EQ(queue.pop()->kind, SyncItem::Kind::Upload);
}

TEST(SyncQueueTest, UploadAfterRemoveReplacesTheKind)
{
    SyncQueue queue;
    queue.push(removal("a"));
    queue.push(upload("b"));
    queue.push(upload("a", true));
    ASSERT_EQ(queue.size(), 2U);
    const std::optional<SyncItem> first = queue.pop();
    ASSERT_TRUE(first.has_value());
    EXPECT_EQ(first->path, "a");
    EXPECT_EQ(first->kind, SyncItem::Kind::Upload);
    // A kind change is a change of content: the merged entry is never verified first.
    EXPECT_FALSE(first->verify_first);
}

TEST(SyncQueueTest, TreeRemovalIsNotReplacedByALaterUploadOrFileRemoval)
{
    // A directory went and a file took its name: the server's tree must still go first (the removal
    // then sends the file), so the queued tree removal stays one.
    SyncQueue queue;
    SyncItem tree = removal("d");
    tree.tree = true;
    queue.push(tree);
    queue.push(upload("d"));
    queue.push(removal("d"));
    ASSERT_EQ(queue.size(), 1U);
    const std::optional<SyncItem> item = queue.pop();
    ASSERT_TRUE(item.has_value());
    EXPECT_EQ(item->kind, SyncItem::Kind::Remove);
    EXPECT_TRUE(item->tree);
}

TEST(SyncQueueTest, LatestKindWinsOverManyFlips)
{
    SyncQueue queue;
    queue.push(upload("a"));
    queue.push(removal("a"));
    queue.push(upload("a"));
    queue.push(removal("a"));
    ASSERT_EQ(queue.size(), 1U);
    EXPECT_EQ(queue.pop()->kind, SyncItem::Kind::Remove);
}

TEST(SyncQueueTest, ResumeHintIsKeptWhenALaterPushHasNone)
{
    SyncQueue queue;
    SyncItem first = upload("big");
    first.resume = ResumeHint{FileVersion{4096, 11, 7}, 1024};
    queue.push(std::move(first));
    queue.push(upload("big"));
    const std::optional<SyncItem> item = queue.pop();
    ASSERT_TRUE(item.has_value());
    ASSERT_TRUE(item->resume.has_value());
    EXPECT_EQ(item->resume->version, (FileVersion{4096, 11, 7}));
    EXPECT_EQ(item->resume->offset, 1024U);
}

TEST(SyncQueueTest, LaterResumeHintReplacesAnEarlierOne)
{
    SyncQueue queue;
    queue.push(upload("big"));
    SyncItem second = upload("big");
    second.resume = ResumeHint{FileVersion{4096, 11, 7}, 1024};
    queue.push(std::move(second));
    SyncItem third = upload("big");
    third.resume = ResumeHint{FileVersion{8192, 12, 7}, 2048};
    queue.push(std::move(third));
    const std::optional<SyncItem> item = queue.pop();
    ASSERT_TRUE(item.has_value());
    ASSERT_TRUE(item->resume.has_value());
    EXPECT_EQ(item->resume->version, (FileVersion{8192, 12, 7}));
    EXPECT_EQ(item->resume->offset, 2048U);
}

TEST(SyncQueueTest, PoppedItemCarriesEveryField)
{
    SyncQueue queue;
    SyncItem item = upload("dir/\xff name", true, 3);
    item.resume = ResumeHint{FileVersion{1, 2, 3}, 1};
    queue.push(std::move(item));
    const std::optional<SyncItem> out = queue.pop();
    ASSERT_TRUE(out.has_value());
    EXPECT_EQ(out->folder, 3U);
    EXPECT_EQ(out->path, "dir/\xff name");
    EXPECT_EQ(out->kind, SyncItem::Kind::Upload);
    EXPECT_TRUE(out->verify_first);
    ASSERT_TRUE(out->resume.has_value());
    EXPECT_EQ(out->resume->offset, 1U);
}

// ---- renames -------------------------------------------------------------------------------------------

SyncItem rename(std::string from, std::string to, bool tree = false, std::size_t folder = 0)
{
    SyncItem item;
    item.folder = folder;
    item.path = std::move(to);
    item.from = std::move(from);
    item.kind = SyncItem::Kind::Rename;
    item.tree = tree;
    return item;
}

// "kind path" per item, "R from>to" for renames, a trailing "/" on tree removals.
std::vector<std::string> drain_described(SyncQueue& queue)
{
    std::vector<std::string> described;
    while (std::optional<SyncItem> item = queue.pop()) {
        switch (item->kind) {
        case SyncItem::Kind::Upload: described.push_back("U " + item->path); break;
        case SyncItem::Kind::Remove: described.push_back("D " + item->path + (item->tree ? "/" : "")); break;
        case SyncItem::Kind::Rename: described.push_back("R " + item->from + ">" + item->path); break;
        }
    }
    return described;
}

TEST(SyncQueueTest, PathsOverlapOnlyAtComponentBoundaries)
{
    EXPECT_TRUE(paths_overlap("a", "a"));
    EXPECT_TRUE(paths_overlap("a", "a/b"));
    EXPECT_TRUE(paths_overlap("a/b/c", "a"));
    EXPECT_FALSE(paths_overlap("a", "ab"));
    EXPECT_FALSE(paths_overlap("a/b", "a/c"));
    EXPECT_FALSE(paths_overlap("ab/c", "a"));
}

TEST(SyncQueueTest, RenameDropsWhatWasQueuedAtOrBelowItsOldPath)
{
    SyncQueue queue;
    queue.push(upload("d/a"));
    queue.push(upload("other"));
    queue.push(removal("d/sub/b"));
    queue.push(upload("d"));
    queue.push(upload("d0"));
    queue.push(rename("d", "e", true));
    EXPECT_EQ(drain_described(queue), (std::vector<std::string>{"U other", "U d0", "R d>e"}));
}

TEST(SyncQueueTest, LaterChangesOnTheNewPathFoldIntoTheRename)
{
    SyncQueue queue;
    queue.push(rename("tmp", "f"));
    queue.push(upload("f"));
    queue.push(removal("f"));
    EXPECT_EQ(drain_described(queue), (std::vector<std::string>{"R tmp>f"}));
}

TEST(SyncQueueTest, ChainedRenamesCompose)
{
    SyncQueue queue;
    // What the first rename would have replaced at b goes on the server too.
    queue.push(rename("a", "b"));
    queue.push(rename("b", "c"));
    EXPECT_EQ(drain_described(queue), (std::vector<std::string>{"R a>c", "D b/"}));
    // Moved away and back: a rename onto itself, which the request scheduler turns into a comparison.
    queue.push(rename("a", "b"));
    queue.push(rename("b", "a"));
    EXPECT_EQ(drain_described(queue), (std::vector<std::string>{"R a>a", "D b/"}));
}

TEST(SyncQueueTest, ARenameSwallowedByAnotherStillRemovesItsSource)
{
    SyncQueue queue;
    queue.push(rename("x", "d/x"));
    queue.push(rename("d", "e", true));
    EXPECT_EQ(drain_described(queue), (std::vector<std::string>{"R d>e", "D x"}));
    queue.push(rename("a", "t"));
    queue.push(rename("b", "t"));
    EXPECT_EQ(drain_described(queue), (std::vector<std::string>{"R b>t", "D a"}));
}

TEST(SyncQueueTest, RenameIsConfinedToItsFolder)
{
    SyncQueue queue;
    queue.push(upload("d/a", false, 1));
    queue.push(rename("d", "e", true, 0));
    EXPECT_EQ(drain_paths(queue), (std::vector<std::string>{"d/a", "e"}));
}

TEST(SyncQueueTest, FrontShowsTheNextItemWithoutTakingIt)
{
    SyncQueue queue;
    EXPECT_EQ(queue.front(), nullptr);
    queue.push(upload("a"));
    queue.push(upload("b"));
    ASSERT_NE(queue.front(), nullptr);
    EXPECT_EQ(queue.front()->path, "a");
    EXPECT_EQ(queue.size(), 2U);
}

TEST(SyncQueueTest, TouchesSeesPathsAboveAndBelowAndBothPathsOfARename)
{
    SyncQueue queue;
    queue.push(upload("a/b/c.txt"));
    queue.push(rename("old", "new", true, 1));
    EXPECT_TRUE(queue.touches(0, "a"));
    EXPECT_TRUE(queue.touches(0, "a/b/c.txt"));
    EXPECT_TRUE(queue.touches(0, "a/b/c.txt/d"));
    EXPECT_FALSE(queue.touches(0, "a/bb"));
    EXPECT_FALSE(queue.touches(1, "a"));
    EXPECT_TRUE(queue.touches(1, "new/x"));
    EXPECT_TRUE(queue.touches(1, "old"));
    EXPECT_FALSE(queue.touches(1, "older"));
    EXPECT_FALSE(queue.touches(0, "old"));
}

} // namespace
} // namespace minisync::agent
