// Starting the daemons for a test, finding the server's port, and waiting for a mirror to match.
#include "minisync_fixture.h"

#include "tree_compare.h"
#include "wait_for.h"

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
    servers_.push_back(std::make_unique<ChildProcess>(MINISYNC_SERVER_BIN, args, sandbox() / log_name));
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

} // namespace minisync::test
