// The fixture every integration test uses: a sandbox with a test PKI, the real minisync-server and
// minisyncd binaries started inside it on loopback with port 0, and what tests wait for and read from them
// (a synced mirror, metrics, minisyncctl status).
#pragma once

#include "child_process.h"
#include "ctl_runner.h"
#include "metrics_scrape.h"
#include "pki.h"
#include "sandbox.h"
#include "tls_context.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace minisync::test {

class MinisyncTest : public ::testing::Test {
protected:
    // The CN of the dev client certificate: the server files its uploads under <root>/mini-rsync-client/.
    static constexpr const char* DefaultCn = "mini-rsync-client";
    // Extra arguments for either daemon: serve metrics on a port of its own (read with sample() and the
    // helpers of metrics_scrape.h).
    static const std::vector<std::string> MetricsArgs;

    // Makes the dev PKI (CA, server.crt, client.crt) in <sandbox>/pki.
    void SetUp() override;
    // Prints the end of every daemon log when the test failed, then kills what still runs.
    void TearDown() override;

    [[nodiscard]] const std::filesystem::path& sandbox() const noexcept { return sandbox_.path(); }
    [[nodiscard]] const Pki& pki() const noexcept { return pki_; }
    // <sandbox>/root, the server's --root.
    [[nodiscard]] std::filesystem::path server_root() const { return sandbox() / "root"; }
    // <root>/<cn>/<folder>/<relative>, where an uploaded file lands.
    [[nodiscard]] std::filesystem::path server_file(const std::string& cn, const std::string& folder,
                                                    const std::string& relative = "") const;
    // Creates <sandbox>/<relative> (and parents) and returns it.
    std::filesystem::path make_dir(const std::string& relative) const;

    // Starts minisync-server on 127.0.0.1:0 with the dev server certificate unless tls is given, and
    // returns the port it logged. Throws (with the log) if it exits or never says where it listens.
    // The first run logs to <sandbox>/server.log, later runs to server-N.log.
    std::uint16_t start_server(const std::vector<std::string>& extra_args = {}, std::optional<TlsFiles> tls = {});
    // Servers started from now on run with this soft and hard limit on open files, which they cannot raise.
    void limit_server_open_files(std::uint64_t limit) { server_open_file_limit_ = limit; }
    // Starts a new minisync-server on the port, root, certificates and arguments of the previous run, as
    // a service manager would after a crash. The previous run must have exited (killed or stopped by the
    // test); throws if it still runs or the new one does not listen on the same port.
    std::uint16_t restart_server();
    // The latest run.
    [[nodiscard]] ChildProcess& server() const;
    // Every run in start order, the latest last (killed ones too: their logs stay readable).
    [[nodiscard]] std::vector<ChildProcess*> server_runs() const;
    [[nodiscard]] std::uint16_t port() const noexcept { return port_; }

    // Starts minisyncd against the running server with the dev client certificate unless tls is given.
    // folders are FOLDER[=NAME] arguments. Logs at debug level to <sandbox>/agent-N.log.
    ChildProcess& start_agent(const std::vector<std::string>& folders, const std::vector<std::string>& extra_args = {},
                              std::optional<TlsFiles> tls = {});
    // The same against whatever listens on 127.0.0.1:server_port (a stand-in server, say).
    ChildProcess& start_agent_for(std::uint16_t server_port, const std::vector<std::string>& folders,
                                  const std::vector<std::string>& extra_args = {}, std::optional<TlsFiles> tls = {});

    // The --state file of agents started with this client certificate.
    [[nodiscard]] std::filesystem::path agent_state(const TlsFiles& tls) const;

    // Polls until the tree under dst equals the one under src (see compare_trees); on timeout the
    // assertion carries the remaining differences.
    ::testing::AssertionResult wait_until_synced(const std::filesystem::path& src, const std::filesystem::path& dst,
                                                 std::chrono::milliseconds deadline);

    // Waits until the agent's log shows it connected (HELLO_OK received).
    ::testing::AssertionResult wait_until_connected(const ChildProcess& agent, std::chrono::milliseconds deadline);

    // SIGTERM, then the exit status README.md promises: 0 within 5 s. Fails the test otherwise.
    static void stop(ChildProcess& child);

    // Waits until the log holds text; on timeout the assertion carries the log. Only for lines that are the
    // contract themselves (what an operator must see); state and counters are asserted through
    // status_json() and sample().
    static ::testing::AssertionResult wait_for_log(const ChildProcess& child, const std::string& text,
                                                   std::chrono::milliseconds deadline = std::chrono::seconds{20});

    // One sample of a daemon started with MetricsArgs, 0 while it is absent (see sample_value()).
    static double sample(const ChildProcess& daemon, const std::string& name) { return sample_value(daemon, name); }
    // minisync_server_rejected_total{reason} of the latest server run, started with MetricsArgs.
    [[nodiscard]] double rejected(const std::string& reason) const;
    // Polls the sample until holds(value); on timeout the assertion carries the last scrape.
    static ::testing::AssertionResult wait_for_sample(const ChildProcess& daemon, const std::string& name,
                                                      const std::function<bool(double)>& holds,
                                                      std::chrono::milliseconds deadline = std::chrono::seconds{20});

    // Waits until an agent started with MetricsArgs has nothing queued, nothing waiting for a retry and no
    // request in flight: whatever it had seen is answered by the server, and the directory attributes its
    // uploads disturbed are restored (that follows the last answer at once). Idle is also how an agent looks
    // before it has seen an event, so call this only after a positive signal that it saw the work (the
    // work's result on the server, a counter that moved).
    ::testing::AssertionResult wait_until_idle(const ChildProcess& agent,
                                               std::chrono::milliseconds deadline = std::chrono::seconds{20});

    // The control socket start_agent() gave the agent.
    [[nodiscard]] std::filesystem::path control_socket(const ChildProcess& agent) const;
    // Waits (10 s) until the agent has made its control socket; throws, with its log, if it never does.
    void wait_for_control_socket(const ChildProcess& agent) const;
    // Runs `minisyncctl --socket <agent's socket> args` once the socket exists.
    CtlResult ctl(const ChildProcess& agent, const std::vector<std::string>& args);
    // `minisyncctl --json status`, parsed; throws when it fails.
    nlohmann::json status_json(const ChildProcess& agent);

private:
    // Starts a server listening on 127.0.0.1:port (0: any) and waits until it says where it listens.
    std::uint16_t launch_server(std::uint16_t port);

    Sandbox sandbox_;
    Pki pki_{sandbox_.path() / "pki"};
    // Declared after the sandbox so they are killed before it is removed.
    std::vector<std::unique_ptr<ChildProcess>> servers_;
    std::vector<std::unique_ptr<ChildProcess>> agents_;
    std::map<const ChildProcess*, std::filesystem::path> control_sockets_;
    int ctl_runs_ = 0;
    std::uint16_t port_ = 0;
    std::optional<std::uint64_t> server_open_file_limit_;
    // What the first start_server() was given, for restart_server().
    std::vector<std::string> server_extra_args_;
    std::optional<TlsFiles> server_tls_;
};

// A test with one watched folder, <sandbox>/src, and the place it lands on the server.
class FolderTest : public MinisyncTest {
protected:
    // What start_and_sync() waits for before it returns.
    enum class Await {
        Probe, // the probe file alone is on the server
        Files, // the server holds every regular file of src, the probe included (other entries are the test's)
        Tree,  // the server's tree equals src's (see wait_until_synced)
    };

    struct StartOptions {
        // FOLDER[=NAME] arguments; unset means src alone. Empty when agent_args name the folder (to put it
        // before other options).
        std::optional<std::vector<std::string>> folders{};
        std::vector<std::string> agent_args{};
        // For the server start_and_sync() starts; a test that started one already leaves this empty.
        std::vector<std::string> server_args{};
        // Writes <src>/probe.txt once the agent runs. Its arrival proves the connection is up and the folder's
        // root is watched: the probe was found by inotify or by the start-up scan, which watches a directory
        // before reading it.
        bool probe = true;
        Await await = Await::Tree;
        std::chrono::milliseconds deadline{20'000};
    };

    void SetUp() override
    {
        MinisyncTest::SetUp();
        src_ = make_dir("src");
        dst_ = server_file(DefaultCn, "src");
    }

    // Starts the server (unless the test did), then an agent, and waits for what options.await says.
    // Throws, with the differences and the agent's log, if that never happens or the agent exits: a helper
    // returning a value cannot ASSERT, and gtest turns the exception into a failure that ends the test.
    ChildProcess& start_and_sync(const StartOptions& options);
    ChildProcess& start_and_sync() { return start_and_sync(StartOptions{}); }

    // Size and mtime of every entry of src match on the server: with atomic renames there, every file has
    // landed. Much cheaper than hashing, so timings measure the sync, not the test.
    [[nodiscard]] bool metadata_matches() const;

    std::filesystem::path src_;
    std::filesystem::path dst_;
};

} // namespace minisync::test
