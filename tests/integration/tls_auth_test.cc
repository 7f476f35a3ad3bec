// Mutual TLS in both directions: which client certificates the server accepts (CA, validity, CN rules,
// --allow-cn) and which server certificates the agent accepts (CA and name). Refused means nothing lands.
#include "minisync_fixture.h"
#include "pki.h"
#include "test_files.h"
#include "tree_compare.h"
#include "tree_walk.h"
#include "wait_for.h"

#include <gtest/gtest.h>

#include <chrono>
#include <ostream>
#include <string>

namespace minisync::test {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

constexpr auto RefusalDeadline = 15s;

// The refusals' reasons are asserted in the logs: docs/OPERATIONS.md promises that the server's log names
// the refused client and why, and that the agent's log says which side refused (and why). The metric
// (minisync_server_rejected_total) cannot tell an expired certificate from one of another CA.
class TlsAuthTest : public FolderTest {
protected:
    void SetUp() override
    {
        FolderTest::SetUp();
        write_file(src_ / "f.txt", "must only arrive with an accepted certificate\n");
    }

    // Everything under the root except the server's own <root>/.minisync.
    std::string landed() const
    {
        std::string found;
        for (const auto& [path, entry] : list_tree(server_root())) {
            if (path != ".minisync" && !path.starts_with(".minisync/")) {
                found += path + "\n";
            }
        }
        return found;
    }

    // Starts the server with its metrics, so that refused_twice_by_server() can count.
    void start_counting_server(std::optional<TlsFiles> tls = {}) { start_server(MetricsArgs, std::move(tls)); }

    // Waits until the server has refused two handshakes for the client certificate: the agent retried and
    // was refused again, so the first refusal was not a fluke and nothing got through in between.
    ::testing::AssertionResult refused_twice_by_server()
    {
        return wait_for_sample(server(), "minisync_server_rejected_total{reason=\"bad_cert\"}",
                               [](double refused) { return refused >= 2; }, RefusalDeadline);
    }

    // Waits until the log shows the refusal twice, as refused_twice_by_server() does, for the agent's side.
    static ::testing::AssertionResult refused_twice(const ChildProcess& process, const std::string& text)
    {
        if (wait_for([&] { return process.log_count(text) >= 2; }, RefusalDeadline)) {
            return ::testing::AssertionSuccess();
        }
        return ::testing::AssertionFailure() << "'" << process.log_path().string() << "' does not show '" << text
                                             << "' twice:\n"
                                             << process.log_text();
    }
};

TEST_F(TlsAuthTest, ClientCertificateFromAnotherCaIsRefused)
{
    const Pki other{sandbox() / "other-pki"};
    other.generate();
    start_counting_server();
    TlsFiles tls = other.client();
    tls.ca = pki().ca(); // the agent trusts the real server; only its own certificate is foreign
    ChildProcess& agent = start_agent({src_.string()}, MetricsArgs, tls);

    ASSERT_TRUE(refused_twice_by_server());
    EXPECT_TRUE(server().log_contains("certificate verify failed"));
    // The agent counts a refusal once it has read it, which may be after the server logged it.
    EXPECT_TRUE(wait_for([&] { return sample(agent, "minisync_errors_total{kind=\"connection\"}") >= 1; }, 10s));
    EXPECT_EQ(landed(), "");
}

TEST_F(TlsAuthTest, ExpiredClientCertificateIsRefused)
{
    pki().generate({"--expired", "old", "old-client"});
    start_counting_server();
    start_agent({src_.string()}, {}, pki().client("old"));

    ASSERT_TRUE(refused_twice_by_server());
    EXPECT_TRUE(server().log_contains("certificate has expired"));
    EXPECT_EQ(landed(), "");
}

TEST_F(TlsAuthTest, NotYetValidClientCertificateIsRefused)
{
    pki().generate({"--not-yet-valid", "future", "future-client"});
    start_counting_server();
    start_agent({src_.string()}, {}, pki().client("future"));

    ASSERT_TRUE(refused_twice_by_server());
    EXPECT_TRUE(server().log_contains("certificate is not yet valid"));
    EXPECT_EQ(landed(), "");
}

TEST_F(TlsAuthTest, ClientCnMissingFromAllowListIsRefused)
{
    start_server({"--allow-cn", "someone-else"});
    ChildProcess& agent = start_agent({src_.string()});

    ASSERT_TRUE(refused_twice(agent, "server refused the connection"));
    EXPECT_TRUE(agent.log_contains("not in --allow-cn"));
    EXPECT_EQ(landed(), "");
}

TEST_F(TlsAuthTest, ClientCnOnAllowListIsAccepted)
{
    start_and_sync({.server_args = {"--allow-cn", "someone-else", "--allow-cn", DefaultCn}, .probe = false});
}

TEST_F(TlsAuthTest, AgentRefusesServerWithoutTheExpectedName)
{
    start_server();
    ChildProcess& agent = start_agent({src_.string()}, {"--server-name", "some-other-name"});

    ASSERT_TRUE(refused_twice(agent, "certificate verify failed"));
    EXPECT_TRUE(agent.log_contains("hostname mismatch"));
    EXPECT_EQ(landed(), "");
}

TEST_F(TlsAuthTest, AgentRefusesCaSignedCertificateIssuedToAnotherName)
{
    // A certificate from the right CA for another host (as another client could present): no MITM.
    pki().generate({"--server-cn", "impostor", "impostor.example"});
    start_server({}, pki().server("impostor"));
    ChildProcess& agent = start_agent({src_.string()});

    ASSERT_TRUE(refused_twice(agent, "certificate verify failed"));
    EXPECT_TRUE(agent.log_contains("hostname mismatch"));
    EXPECT_EQ(landed(), "");
}

struct UnsafeCn {
    std::string stem; // certificate file name and test name
    std::string cn;
};

// Readable names in test listings instead of gtest's byte dump.
void PrintTo(const UnsafeCn& param, std::ostream* out)
{
    *out << param.stem << " (CN '" << param.cn << "')";
}

class UnsafeClientCnTest : public TlsAuthTest, public ::testing::WithParamInterface<UnsafeCn> {};

TEST_P(UnsafeClientCnTest, IsRefusedBeforeAnyFileOperation)
{
    const UnsafeCn& param = GetParam();
    pki().generate({"--client-cn", param.stem, param.cn});
    start_server();
    const TreeListing root_before = list_tree(server_root());
    // A folder name of its own: with CN "..", a server that used the CN would create <root>/../cn-probe.
    ChildProcess& agent = start_agent({src_.string() + "=cn-probe"}, {}, pki().client(param.stem));

    ASSERT_TRUE(refused_twice(agent, "server refused the connection"));
    EXPECT_EQ(landed(), "");
    EXPECT_FALSE(fs::exists(sandbox() / "cn-probe"));
    // Not even a directory, and nothing inside the server's own .minisync.
    EXPECT_EQ(join_lines(compare_listings(root_before, list_tree(server_root()),
                                          CompareOptions{.identity = true, .skip_partials = false})),
              "");
}

INSTANTIATE_TEST_SUITE_P(TlsAuth, UnsafeClientCnTest,
                         ::testing::Values(UnsafeCn{"dotdot", ".."}, UnsafeCn{"dot", "."},
                                           UnsafeCn{"hidden", ".hidden"}, UnsafeCn{"reserved", ".minisync"},
                                           UnsafeCn{"slash", "a/b"}, UnsafeCn{"nocn", ""}),
                         [](const ::testing::TestParamInfo<UnsafeCn>& info) { return info.param.stem; });

} // namespace
} // namespace minisync::test
