// The fixture every integration test uses: a sandbox with a test PKI, and the real minisync-server and
// minisyncd binaries started inside it on loopback with port 0.
#pragma once

#include "child_process.h"
#include "pki.h"
#include "sandbox.h"
#include "tls_context.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace minisync::test {

class MinisyncTest : public ::testing::Test {
protected:
    // The CN of the dev client certificate: the server files its uploads under <root>/mini-rsync-client/.
    static constexpr const char* DefaultCn = "mini-rsync-client";

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

private:
    // Starts a server listening on 127.0.0.1:port (0: any) and waits until it says where it listens.
    std::uint16_t launch_server(std::uint16_t port);

    Sandbox sandbox_;
    Pki pki_{sandbox_.path() / "pki"};
    // Declared after the sandbox so they are killed before it is removed.
    std::vector<std::unique_ptr<ChildProcess>> servers_;
    std::vector<std::unique_ptr<ChildProcess>> agents_;
    std::uint16_t port_ = 0;
    // What the first start_server() was given, for restart_server().
    std::vector<std::string> server_extra_args_;
    std::optional<TlsFiles> server_tls_;
};

// A test with one watched folder, <sandbox>/src, and the place it lands on the server.
class FolderTest : public MinisyncTest {
protected:
    void SetUp() override
    {
        MinisyncTest::SetUp();
        src_ = make_dir("src");
        dst_ = server_file(DefaultCn, "src");
    }

    std::filesystem::path src_;
    std::filesystem::path dst_;
};

} // namespace minisync::test
