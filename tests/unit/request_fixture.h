// A fixture for tests of the server's request objects: a real worker pool, loop inbox, path locks and
// group commit, and a sandbox directory as the server's root. Worker reports are waited for with a deadline.
#pragma once

#include "group_commit.h"
#include "libevent_handles.h"
#include "loop_inbox.h"
#include "path_locks.h"
#include "process_setup.h"
#include "client_request.h"
#include "sandbox.h"
#include "unique_fd.h"
#include "worker_pool.h"

#include <fcntl.h>

#include <prometheus/counter.h>
#include <prometheus/registry.h>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

namespace minisync::server::test {

// Catches the one result a worker reports.
template <typename Result>
class Reported {
public:
    // Any thread, once.
    [[nodiscard]] std::function<void(Result)> reporter()
    {
        return [promise = promise_](Result result) { promise->set_value(std::move(result)); };
    }
    // Nothing when no report came within the limit.
    std::optional<Result> wait(std::chrono::milliseconds limit = std::chrono::seconds{10})
    {
        if (future_.wait_for(limit) != std::future_status::ready) {
            return std::nullopt;
        }
        return future_.get();
    }

private:
    std::shared_ptr<std::promise<Result>> promise_ = std::make_shared<std::promise<Result>>();
    std::future<Result> future_ = promise_->get_future();
};

class RequestFixture : public minisync::test::SandboxedTest {
protected:
    static constexpr const char* Client = "client";
    static constexpr const char* Folder = "folder";

    void SetUp() override
    {
        SandboxedTest::SetUp();
        ASSERT_NE(base_, nullptr);
        root_.reset(::open(sandbox().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
        ASSERT_TRUE(root_);
    }

    void TearDown() override
    {
        pool_.shutdown(); // before the locks go: queued release tasks refer to them
        SandboxedTest::TearDown();
    }

    // A path lock key as the server makes them: "<client>\0<folder>\0<path>".
    static std::string key_of(const std::string& path)
    {
        std::string key = Client;
        key.append(1, '\0').append(Folder).append(1, '\0').append(path);
        return key;
    }

    // The admission of a request for path; the test fails when the path is held.
    Admission admission(const std::string& path, bool whole_tree = false)
    {
        std::optional<HeldPath> held = HeldPath::acquire(locks_, key_of(path), whole_tree);
        EXPECT_TRUE(held) << "the path '" << path << "' is held";
        return Admission{std::move(held.value()), std::nullopt};
    }

    static EvBasePtr make_base()
    {
        // libevent's thread support must be on before the base exists: workers wake the loop.
        static std::once_flag once;
        std::call_once(once, [] { prepare_process(); });
        return EvBasePtr{event_base_new()};
    }

    const std::atomic<bool>& stop() const noexcept { return pool_.stop_requested(); }

    EvBasePtr base_ = make_base();
    LoopInbox inbox_{base_.get()};
    WorkerPool pool_{2};
    PathLocks locks_{pool_, inbox_};
    prometheus::Registry registry_;
    prometheus::Counter& directory_syncs_{
        prometheus::BuildCounter().Name("directory_syncs_total").Register(registry_).Add({})};
    // Outlives the workers, stopped in TearDown, that may still be finishing a group when a test ends.
    GroupCommitter commits_{pool_, directory_syncs_};
    UniqueFd root_;
};

} // namespace minisync::server::test
