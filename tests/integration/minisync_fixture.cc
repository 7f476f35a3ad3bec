// Starting the daemons for a test, finding the server's port, waiting for a mirror to match, and reading
// what the daemons report (metrics, minisyncctl status).
#include "minisync_fixture.h"

#include "test_files.h"
#include "tree_compare.h"
#include "tree_walk.h"
#include "wait_for.h"

#include <csignal>
#include <iostream>
#include <regex>
#include <stdexcept>

namespace minisync::test {
namespace {

using namespace std::chrono_literals;

constexpr std::size_t LogLinesOnFailure = 60;

std::string last_lines(const std::string& text, std::size_t count)
{
    std::size_t start = text.size();
    for (std::size_t seen = 0; start > 0 && seen <= count; --start) {
        if (text[start - 1] == '\n') {
            ++seen;
        }
    }
    return text.substr(start);
}

std::vector<std::string> tls_args(const TlsFiles& tls)
{
    return {"--cert", tls.cert, "--key", tls.key, "--ca", tls.ca};
}

} // namespace

const std::vector<std::string> MinisyncTest::MetricsArgs{"--metrics", "127.0.0.1:0"};

void MinisyncTest::SetUp()
{
    pki_.generate();
}

void MinisyncTest::TearDown()
{
    if (HasFailure()) {
        std::vector<const ChildProcess*> children;
        for (const auto& server : servers_) {
            children.push_back(server.get());
        }
        for (const auto& agent : agents_) {
            children.push_back(agent.get());
        }
        for (const ChildProcess* child : children) {
            std::cout << "---- last lines of " << child->log_path().string() << " ----\n"
                      << last_lines(child->log_text(), LogLinesOnFailure) << "---- end ----\n";
        }
    }
    agents_.clear();
    servers_.clear();
}

std::filesystem::path MinisyncTest::server_file(const std::string& cn, const std::string& folder,
                                                const std::string& relative) const
{
    std::filesystem::path path = server_root() / cn / folder;
    return relative.empty() ? path : path / relative;
}

std::filesystem::path MinisyncTest::make_dir(const std::string& relative) const
{
    const std::filesystem::path dir = sandbox() / relative;
    std::filesystem::create_directories(dir);
    return dir;
}

std::uint16_t MinisyncTest::start_server(const std::vector<std::string>& extra_args, std::optional<TlsFiles> tls)
{
    server_extra_args_ = extra_args;
    server_tls_ = std::move(tls);
    return launch_server(0);
}

std::uint16_t MinisyncTest::restart_server()
{
    if (servers_.empty()) {
        throw std::logic_error("restart_server() needs an earlier start_server()");
    }
    if (servers_.back()->running()) {
        throw std::logic_error("restart_server(): the previous server still runs; kill or stop it first");
    }
    const std::uint16_t wanted = port_;
    if (launch_server(wanted) != wanted) {
        throw std::runtime_error("the restarted minisync-server did not listen on port " + std::to_string(wanted));
    }
    return wanted;
}

std::uint16_t MinisyncTest::launch_server(std::uint16_t port)
{
    std::vector<std::string> args{"--listen", "127.0.0.1:" + std::to_string(port), "--root", server_root().string(),
                                  "--log-level", "debug"};
    for (std::string& arg : tls_args(server_tls_ ? *server_tls_ : pki_.server())) {
        args.push_back(std::move(arg));
    }
    args.insert(args.end(), server_extra_args_.begin(), server_extra_args_.end());
    const std::string log_name =
        servers_.empty() ? std::string{"server.log"} : "server-" + std::to_string(servers_.size() + 1) + ".log";
    servers_.push_back(
        std::make_unique<ChildProcess>(MINISYNC_SERVER_BIN, args, sandbox() / log_name, server_open_file_limit_));
    ChildProcess& server = *servers_.back();

    static const std::regex Listening{R"(listening on 127\.0\.0\.1:(\d+))"};
    std::smatch match;
    std::string log;
    const bool found = wait_for(
        [&] {
            log = server.log_text();
            return std::regex_search(log, match, Listening) || !server.running();
        },
        10s);
    if (!found || match.empty()) {
        throw std::runtime_error("minisync-server did not report its port; log:\n" + server.log_text());
    }
    port_ = static_cast<std::uint16_t>(std::stoul(match[1].str()));
    return port_;
}

std::filesystem::path MinisyncTest::agent_state(const TlsFiles& tls) const
{
    return sandbox() / ("agent-state-" + std::filesystem::path{tls.cert}.stem().string() + ".db");
}

ChildProcess& MinisyncTest::server() const
{
    if (servers_.empty()) {
        throw std::logic_error("start_server() was not called");
    }
    return *servers_.back();
}

std::vector<ChildProcess*> MinisyncTest::server_runs() const
{
    std::vector<ChildProcess*> runs;
    for (const auto& server : servers_) {
        runs.push_back(server.get());
    }
    return runs;
}

ChildProcess& MinisyncTest::start_agent(const std::vector<std::string>& folders,
                                        const std::vector<std::string>& extra_args, std::optional<TlsFiles> tls)
{
    if (port_ == 0) {
        throw std::logic_error("start_server() must come before start_agent()");
    }
    return start_agent_for(port_, folders, extra_args, std::move(tls));
}

ChildProcess& MinisyncTest::start_agent_for(std::uint16_t server_port, const std::vector<std::string>& folders,
                                            const std::vector<std::string>& extra_args, std::optional<TlsFiles> tls)
{
    const std::string number = std::to_string(agents_.size() + 1);
    // State and control socket stay in the sandbox: tests never touch the user's ~/.local/state or
    // $XDG_RUNTIME_DIR. One state file per client identity: restarts share it as a real restart would,
    // and agents running side by side (one machine each) do not.
    const TlsFiles& identity = tls ? *tls : pki_.client();
    std::vector<std::string> args{"--server",  "127.0.0.1:" + std::to_string(server_port),
                                  "--state",   agent_state(identity).string(),
                                  "--control", (sandbox() / ("agent-" + number + ".sock")).string(),
                                  "--log-level", "debug"};
    for (std::string& arg : tls_args(identity)) {
        args.push_back(std::move(arg));
    }
    args.insert(args.end(), extra_args.begin(), extra_args.end());
    args.insert(args.end(), folders.begin(), folders.end());
    agents_.push_back(std::make_unique<ChildProcess>(MINISYNCD_BIN, args, sandbox() / ("agent-" + number + ".log")));
    control_sockets_[agents_.back().get()] = sandbox() / ("agent-" + number + ".sock");
    return *agents_.back();
}

::testing::AssertionResult MinisyncTest::wait_until_synced(const std::filesystem::path& src,
                                                           const std::filesystem::path& dst,
                                                           std::chrono::milliseconds deadline)
{
    std::vector<std::string> differences;
    if (wait_for([&] { return (differences = compare_trees(src, dst)).empty(); }, deadline)) {
        return ::testing::AssertionSuccess();
    }
    return ::testing::AssertionFailure() << "'" << dst.string() << "' still differs from '" << src.string()
                                         << "' after " << deadline.count() << " ms:\n"
                                         << join_lines(differences);
}

::testing::AssertionResult MinisyncTest::wait_until_connected(const ChildProcess& agent,
                                                              std::chrono::milliseconds deadline)
{
    if (wait_for([&] { return agent.log_contains("connected as '"); }, deadline)) {
        return ::testing::AssertionSuccess();
    }
    return ::testing::AssertionFailure() << "the agent did not connect within " << deadline.count() << " ms";
}

void MinisyncTest::stop(ChildProcess& child)
{
    ASSERT_TRUE(child.send_signal(SIGTERM));
    ASSERT_EQ(child.wait_for_exit(5s), 0) << child.binary() << " did not exit 0 within 5 s of SIGTERM";
}

::testing::AssertionResult MinisyncTest::wait_for_log(const ChildProcess& child, const std::string& text,
                                                      std::chrono::milliseconds deadline)
{
    if (wait_for([&] { return child.log_contains(text); }, deadline)) {
        return ::testing::AssertionSuccess();
    }
    return ::testing::AssertionFailure() << "'" << text << "' never appeared in " << child.log_path().string() << ":\n"
                                         << child.log_text();
}

double MinisyncTest::rejected(const std::string& reason) const
{
    return sample(server(), "minisync_server_rejected_total{reason=\"" + reason + "\"}");
}

::testing::AssertionResult MinisyncTest::wait_for_sample(const ChildProcess& daemon, const std::string& name,
                                                         const std::function<bool(double)>& holds,
                                                         std::chrono::milliseconds deadline)
{
    std::string text;
    const bool held = wait_for(
        [&] {
            text = scrape_text(daemon);
            const Samples samples = parse_samples(text);
            const auto it = samples.find(name);
            return holds(it == samples.end() ? 0.0 : it->second);
        },
        deadline);
    if (held) {
        return ::testing::AssertionSuccess();
    }
    return ::testing::AssertionFailure() << name << " never reached the value wanted within " << deadline.count()
                                         << " ms; last scrape of " << daemon.log_path().filename().string() << ":\n"
                                         << text;
}

::testing::AssertionResult MinisyncTest::wait_until_idle(const ChildProcess& agent, std::chrono::milliseconds deadline)
{
    std::string text;
    const bool idle = wait_for(
        [&] {
            text = scrape_text(agent);
            Samples samples = parse_samples(text);
            return samples["minisync_queue_depth"] == 0 && samples["minisync_inflight_transfers"] == 0;
        },
        deadline);
    if (idle) {
        return ::testing::AssertionSuccess();
    }
    return ::testing::AssertionFailure() << "the agent still had work queued or in flight after " << deadline.count()
                                         << " ms; last scrape:\n"
                                         << text;
}

std::filesystem::path MinisyncTest::control_socket(const ChildProcess& agent) const
{
    const auto it = control_sockets_.find(&agent);
    if (it == control_sockets_.end()) {
        throw std::logic_error("control_socket(): not an agent start_agent() started");
    }
    return it->second;
}

void MinisyncTest::wait_for_control_socket(const ChildProcess& agent) const
{
    const std::filesystem::path socket = control_socket(agent);
    if (!wait_for([&] { return std::filesystem::exists(socket); }, 10s)) {
        throw std::runtime_error("the agent never made its control socket '" + socket.string() + "':\n" +
                                 agent.log_text());
    }
}

CtlResult MinisyncTest::ctl(const ChildProcess& agent, const std::vector<std::string>& args)
{
    wait_for_control_socket(agent);
    std::vector<std::string> full{"--socket", control_socket(agent).string()};
    full.insert(full.end(), args.begin(), args.end());
    return run_ctl(full, sandbox() / ("ctl-" + std::to_string(++ctl_runs_) + ".log"), 120s);
}

nlohmann::json MinisyncTest::status_json(const ChildProcess& agent)
{
    const CtlResult result = ctl(agent, {"--json", "status"});
    if (result.exit_code != 0) {
        throw std::runtime_error("minisyncctl status failed (" + std::to_string(result.exit_code) +
                                 "): " + result.output);
    }
    return nlohmann::json::parse(result.output);
}

ChildProcess& FolderTest::start_and_sync(const StartOptions& options)
{
    if (server_runs().empty()) {
        start_server(options.server_args);
    } else if (!options.server_args.empty()) {
        throw std::logic_error("start_and_sync(): server_args given, but the test started the server itself");
    }
    ChildProcess& agent = start_agent(options.folders.value_or(std::vector<std::string>{src_.string()}),
                                      options.agent_args);
    if (options.probe) {
        write_file(src_ / "probe.txt", "probe\n");
    }
    std::vector<std::string> differences;
    const auto arrived = [&] {
        switch (options.await) {
        case Await::Probe:
            differences = {"probe.txt is not on the server"};
            return std::filesystem::exists(std::filesystem::symlink_status(dst_ / "probe.txt"));
        case Await::Files:
            differences = compare_listings(files_only(list_tree(src_)), files_only(list_tree(dst_)));
            return differences.empty();
        case Await::Tree: differences = compare_trees(src_, dst_); return differences.empty();
        }
        return false;
    };
    if (!wait_for([&] { return arrived() || !agent.running(); }, options.deadline) || !agent.running()) {
        throw std::runtime_error("the agent's first sync did not complete" +
                                 std::string{agent.running() ? "" : " (the agent exited)"} + ":\n" +
                                 join_lines(differences) + "\nagent log:\n" + agent.log_text());
    }
    return agent;
}

bool FolderTest::metadata_matches() const
{
    return compare_listings(list_tree(src_), list_tree(dst_)).empty();
}

} // namespace minisync::test
