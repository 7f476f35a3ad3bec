// Tests for group commits on a real directory tree: an idle directory commits at once, uploads that
// wait together for one directory are renamed into place under one directory fsync, each is reported
// only once its file is in place, and other directories do not wait for that group.
#include "group_commit.h"

#include "sandbox.h"
#include "sha256.h"
#include "unique_fd.h"

#include <fcntl.h>
#include <prometheus/counter.h>
#include <prometheus/registry.h>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <future>
#include <iterator>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace minisync::server {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

class GroupCommitTest : public test::SandboxedTest {
protected:
    void SetUp() override
    {
        SandboxedTest::SetUp();
        root_.reset(::open(sandbox().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
        ASSERT_TRUE(root_);
    }

    void TearDown() override
    {
        pool_.shutdown();
        SandboxedTest::TearDown();
    }

    // An upload written and verified, ready for the committer.
    std::shared_ptr<IncomingUpload> ready_upload(const std::string& path, const std::string& content)
    {
        const std::span<const std::uint8_t> bytes{reinterpret_cast<const std::uint8_t*>(content.data()),
                                                  content.size()};
        UploadTarget target;
        target.client = "client";
        target.folder = "folder";
        target.path = path;
        target.size = content.size();
        auto upload = std::make_shared<IncomingUpload>(std::move(target), stop_);
        EXPECT_EQ(upload->open(root_.get()).outcome, IncomingUpload::OpenOutcome::Ready);
        EXPECT_FALSE(upload->write(0, bytes).error);
        EXPECT_TRUE(upload->prepare_commit(sha256_of(bytes)).ok());
        return upload;
    }

    [[nodiscard]] fs::path final_path(const std::string& path) const { return sandbox() / "client" / "folder" / path; }

    [[nodiscard]] std::string read(const std::string& path) const
    {
        std::ifstream in{final_path(path), std::ios::binary};
        return {std::istreambuf_iterator<char>{in}, {}};
    }

    std::atomic<bool> stop_{false};
    UniqueFd root_;
    prometheus::Registry registry_;
    prometheus::Counter& directory_syncs_{
        prometheus::BuildCounter().Name("directory_syncs_total").Register(registry_).Add({})};
    WorkerPool pool_{1};
    GroupCommitter committer_{pool_, directory_syncs_};
};

TEST_F(GroupCommitTest, TheFirstUploadForAnIdleDirectoryCommitsAtOnceOnTheSubmittingThread)
{
    const auto upload = ready_upload("dir/file", "at once");
    bool reported = false;
    committer_.submit(upload, [&](Result<void> committed) {
        EXPECT_TRUE(committed.ok());
        EXPECT_EQ(read("dir/file"), "at once") << "reported before the file was in place";
        reported = true;
    });
    EXPECT_TRUE(reported);
    EXPECT_EQ(directory_syncs_.Value(), 1.0);
}

TEST_F(GroupCommitTest, UploadsArrivingWhileTheirDirectoryCommitsShareTheNextDirectorySync)
{
    constexpr int Later = 19;
    const auto first = ready_upload("dir/first", "first");
    std::vector<std::shared_ptr<IncomingUpload>> later;
    for (int i = 0; i < Later; ++i) {
        later.push_back(ready_upload("dir/f" + std::to_string(i), "content " + std::to_string(i)));
    }
    std::atomic<int> in_place_when_reported{0};
    std::promise<void> all_done;
    std::atomic<int> reported{0};
    committer_.submit(first, [&](Result<void> committed) {
        EXPECT_TRUE(committed.ok());
        // Still inside the first group's run: these wait, and then go together.
        for (int i = 0; i < Later; ++i) {
            committer_.submit(later[static_cast<std::size_t>(i)], [&, i](Result<void> later_committed) {
                EXPECT_TRUE(later_committed.ok()) << later_committed.error().message;
                if (read("dir/f" + std::to_string(i)) == "content " + std::to_string(i)) {
                    ++in_place_when_reported;
                }
                if (++reported == Later) {
                    all_done.set_value();
                }
            });
        }
        EXPECT_FALSE(fs::exists(final_path("dir/f0"))) << "committed before its group ran";
    });
    ASSERT_EQ(all_done.get_future().wait_for(10s), std::future_status::ready);
    EXPECT_EQ(in_place_when_reported.load(), Later);
    EXPECT_EQ(directory_syncs_.Value(), 2.0);
    for (const auto& entry : fs::directory_iterator{final_path("dir")}) {
        EXPECT_EQ(entry.path().filename().string().rfind('f', 0), 0U) << "left behind: " << entry.path();
    }
}

TEST_F(GroupCommitTest, AnotherDirectoryDoesNotWaitForTheGroupOfThisOne)
{
    const auto first = ready_upload("a/file", "in a");
    const auto other_dir = ready_upload("b/file", "in b");
    const auto second = ready_upload("a/other", "also in a");
    const auto third = ready_upload("a/third", "a third in a");
    std::atomic<int> reported{0};
    std::promise<void> all_done;
    const auto count = [&](Result<void> committed) {
        EXPECT_TRUE(committed.ok());
        if (++reported == 4) {
            all_done.set_value();
        }
    };
    bool b_done_inside_a = false;
    committer_.submit(first, [&](Result<void> committed) {
        committer_.submit(second, count);
        committer_.submit(third, count);
        committer_.submit(other_dir, [&](Result<void> b_committed) {
            b_done_inside_a = true;
            count(std::move(b_committed));
        });
        EXPECT_TRUE(b_done_inside_a) << "b/ waited for a/";
        count(std::move(committed));
    });
    ASSERT_EQ(all_done.get_future().wait_for(10s), std::future_status::ready);
    // a/file alone, b/file alone, then a/other and a/third together.
    EXPECT_EQ(directory_syncs_.Value(), 3.0);
    EXPECT_EQ(read("a/file"), "in a");
    EXPECT_EQ(read("a/other"), "also in a");
    EXPECT_EQ(read("a/third"), "a third in a");
    EXPECT_EQ(read("b/file"), "in b");
}

} // namespace
} // namespace minisync::server
