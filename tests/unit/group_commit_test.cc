// Tests for group commits on a real directory tree: uploads that wait together for one directory are
// renamed into place under one directory fsync, each is reported only once its file is in place, and
// different directories get their own groups.
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
        open_gate();
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
        EXPECT_FALSE(upload->prepare_commit(sha256_of(bytes)));
        return upload;
    }

    [[nodiscard]] fs::path final_path(const std::string& path) const { return sandbox() / "client" / "folder" / path; }

    [[nodiscard]] std::string read(const std::string& path) const
    {
        std::ifstream in{final_path(path), std::ios::binary};
        return {std::istreambuf_iterator<char>{in}, {}};
    }

    void open_gate()
    {
        if (!std::exchange(gate_opened_, true)) {
            gate_.set_value();
        }
    }

    // Keeps the only worker busy until the test lets go, so everything submitted meanwhile waits.
    void hold_the_worker() { pool_.post([future = gate_.get_future().share()] { future.wait(); }); }

    std::atomic<bool> stop_{false};
    UniqueFd root_;
    prometheus::Registry registry_;
    prometheus::Counter& directory_syncs_{
        prometheus::BuildCounter().Name("directory_syncs_total").Register(registry_).Add({})};
    WorkerPool pool_{1};
    GroupCommitter committer_{pool_, directory_syncs_};
    std::promise<void> gate_;
    bool gate_opened_ = false;
};

TEST_F(GroupCommitTest, UploadsWaitingForOneDirectoryShareOneDirectorySync)
{
    constexpr int Files = 20;
    std::vector<std::shared_ptr<IncomingUpload>> uploads;
    for (int i = 0; i < Files; ++i) {
        uploads.push_back(ready_upload("dir/f" + std::to_string(i), "content " + std::to_string(i)));
    }
    hold_the_worker();
    std::atomic<int> reported{0};
    std::atomic<int> in_place_when_reported{0};
    std::promise<void> all_done;
    for (int i = 0; i < Files; ++i) {
        committer_.submit(uploads[static_cast<std::size_t>(i)], [&, i](std::optional<FsError> error) {
            EXPECT_FALSE(error) << error->message;
            if (read("dir/f" + std::to_string(i)) == "content " + std::to_string(i)) {
                ++in_place_when_reported;
            }
            if (++reported == Files) {
                all_done.set_value();
            }
        });
    }
    EXPECT_FALSE(fs::exists(final_path("dir/f0"))) << "committed before its group ran";
    open_gate();
    ASSERT_EQ(all_done.get_future().wait_for(10s), std::future_status::ready);
    EXPECT_EQ(in_place_when_reported.load(), Files);
    EXPECT_EQ(directory_syncs_.Value(), 1.0);
    for (const auto& entry : fs::directory_iterator{final_path("dir")}) {
        EXPECT_EQ(entry.path().filename().string().rfind('f', 0), 0U) << "left behind: " << entry.path();
    }
}

TEST_F(GroupCommitTest, EachDirectoryGetsItsOwnGroup)
{
    const auto first = ready_upload("a/file", "in a");
    const auto second = ready_upload("b/file", "in b");
    const auto third = ready_upload("a/other", "also in a");
    hold_the_worker();
    std::atomic<int> reported{0};
    std::promise<void> all_done;
    for (const auto& upload : {first, second, third}) {
        committer_.submit(upload, [&](std::optional<FsError> error) {
            EXPECT_FALSE(error);
            if (++reported == 3) {
                all_done.set_value();
            }
        });
    }
    open_gate();
    ASSERT_EQ(all_done.get_future().wait_for(10s), std::future_status::ready);
    EXPECT_EQ(directory_syncs_.Value(), 2.0);
    EXPECT_EQ(read("a/file"), "in a");
    EXPECT_EQ(read("a/other"), "also in a");
    EXPECT_EQ(read("b/file"), "in b");
}

TEST_F(GroupCommitTest, AnUploadArrivingWhileItsDirectoryCommitsGoesInTheNextGroup)
{
    const auto early = ready_upload("dir/early", "early");
    const auto late = ready_upload("dir/late", "late");
    std::promise<void> late_done;
    committer_.submit(early, [&](std::optional<FsError> error) {
        EXPECT_FALSE(error);
        // Still inside the first group's run: this one must wait for a group of its own.
        committer_.submit(late, [&](std::optional<FsError> late_error) {
            EXPECT_FALSE(late_error);
            late_done.set_value();
        });
    });
    open_gate();
    ASSERT_EQ(late_done.get_future().wait_for(10s), std::future_status::ready);
    EXPECT_EQ(directory_syncs_.Value(), 2.0);
    EXPECT_EQ(read("dir/early"), "early");
    EXPECT_EQ(read("dir/late"), "late");
}

} // namespace
} // namespace minisync::server
