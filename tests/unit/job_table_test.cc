// JobTable: its indexes, and the order rules that make an item wait for the jobs in flight.
#include "job_table.h"

#include "recording_frame_sink.h"
#include "removal_request.h"

#include <gtest/gtest.h>

namespace minisync::agent {
namespace {

SyncItem upload(std::string path, std::size_t folder = 0)
{
    SyncItem item;
    item.folder = folder;
    item.path = std::move(path);
    return item;
}

SyncItem tree_removal(std::string path)
{
    return removal_item(0, std::move(path), true);
}

SyncItem rename(std::string from, std::string to)
{
    SyncItem item = upload(std::move(to));
    item.kind = SyncItem::Kind::Rename;
    item.from = std::move(from);
    return item;
}

SyncItem settle(std::string path)
{
    SyncItem item = upload(std::move(path));
    item.settle = true;
    return item;
}

TEST(JobTableTest, JobsAreFoundByIdPathAndRequestUntilTaken)
{
    JobTable jobs;
    testing::RecordingFrameSink sink;
    Job& job = jobs.add(upload("a/b"));
    const std::uint64_t id = job.id;
    EXPECT_EQ(jobs.find(id), &job);
    EXPECT_EQ(jobs.find_by_path(upload("a/b")), &job);
    EXPECT_EQ(jobs.find_by_path(upload("a/b", 1)), nullptr); // another folder
    EXPECT_EQ(jobs.find_by_request(5), nullptr);
    jobs.attach(job, std::make_unique<RemovalRequest>(sink, 5, "docs", "a/b", false));
    EXPECT_EQ(jobs.find_by_request(5), &job);

    const Job taken = jobs.take(id);
    EXPECT_EQ(taken.item.path, "a/b");
    EXPECT_TRUE(jobs.empty());
    EXPECT_EQ(jobs.find(id), nullptr);
    EXPECT_EQ(jobs.find_by_path(upload("a/b")), nullptr);
    EXPECT_EQ(jobs.find_by_request(5), nullptr);
    EXPECT_NE(jobs.add(upload("a/b")).id, id); // ids are never reused
}

TEST(JobTableTest, FilesAmongFilesNeverWait)
{
    JobTable jobs;
    jobs.add(upload("a"));
    jobs.add(upload("a/b"));
    EXPECT_FALSE(jobs.must_wait(upload("a/c")));
    EXPECT_FALSE(jobs.must_wait(upload("a"))); // the same path: absorbed by its job, not held back
}

TEST(JobTableTest, ARenameAndAnythingOnEitherOfItsPathsWaitForEachOther)
{
    JobTable jobs;
    jobs.add(rename("old", "new"));
    EXPECT_TRUE(jobs.must_wait(upload("old/file")));
    EXPECT_TRUE(jobs.must_wait(upload("new/file")));
    EXPECT_TRUE(jobs.must_wait(upload("new")));
    EXPECT_FALSE(jobs.must_wait(upload("other/file")));
    EXPECT_FALSE(jobs.must_wait(upload("old/file", 1)));

    JobTable uploads;
    uploads.add(upload("a/file"));
    EXPECT_TRUE(uploads.must_wait(rename("a", "b")));
    EXPECT_TRUE(uploads.must_wait(rename("x", "a/file")));
    EXPECT_FALSE(uploads.must_wait(rename("x", "y")));
}

TEST(JobTableTest, ATreeRemovalAndWhatIsBelowItWaitForEachOther)
{
    JobTable jobs;
    Job& removal = jobs.add(tree_removal("dir"));
    EXPECT_TRUE(jobs.must_wait(upload("dir/file")));
    EXPECT_FALSE(jobs.must_wait(upload("dirt")));

    // A file job turned into a tree removal (a directory in the way on the server) counts as one.
    JobTable retargeted;
    Job& job = retargeted.add(upload("x"));
    EXPECT_FALSE(retargeted.must_wait(upload("x/y")));
    retargeted.retarget(job, SyncItem::Kind::Remove, true);
    EXPECT_TRUE(retargeted.must_wait(upload("x/y")));
    retargeted.retarget(job, SyncItem::Kind::Upload, false);
    EXPECT_FALSE(retargeted.must_wait(upload("x/y")));

    jobs.take(removal.id);
    EXPECT_FALSE(jobs.must_wait(upload("dir/file")));
}

TEST(JobTableTest, ADirectorysSettlingWaitsForTheJobsBelowIt)
{
    JobTable jobs;
    Job& below = jobs.add(upload("dir/sub/file"));
    EXPECT_TRUE(jobs.must_wait(settle("dir")));
    EXPECT_TRUE(jobs.must_wait(settle("dir/sub")));
    EXPECT_FALSE(jobs.must_wait(settle("other")));
    EXPECT_TRUE(jobs.any_below(jobs.add(tree_removal("dir"))));
    EXPECT_FALSE(jobs.any_below(below));
}

TEST(JobTableTest, TakingAllEmptiesEveryIndexInOrder)
{
    JobTable jobs;
    jobs.add(upload("a"));
    jobs.add(tree_removal("b"));
    const std::vector<Job> all = jobs.take_all();
    ASSERT_EQ(all.size(), 2U);
    EXPECT_EQ(all[0].item.path, "a");
    EXPECT_EQ(all[1].item.path, "b");
    EXPECT_TRUE(jobs.empty());
    EXPECT_EQ(jobs.find_by_path(upload("a")), nullptr);
    EXPECT_FALSE(jobs.must_wait(upload("b/c")));
}

} // namespace
} // namespace minisync::agent
