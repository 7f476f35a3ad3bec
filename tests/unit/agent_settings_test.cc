// Tests for minisyncd's settings: FOLDER[=NAME] splitting, the default server name and state path, and
// command-line parsing of a valid run and of each kind of usage error.
#include "agent_settings.h"

#include "sandbox.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <variant>
#include <vector>

namespace minisync::agent {
namespace {

using FolderSplit = std::pair<std::string, std::string>;

// ---- split_folder_argument --------------------------------------------------------------------------

TEST(SplitFolderArgumentTest, ExplicitName)
{
    EXPECT_EQ(split_folder_argument("/data/photos=pics"), (FolderSplit{"/data/photos", "pics"}));
    EXPECT_EQ(split_folder_argument("rel/dir=x"), (FolderSplit{"rel/dir", "x"}));
    // The name is taken as written; validating it is the caller's job.
    EXPECT_EQ(split_folder_argument("/data/photos="), (FolderSplit{"/data/photos", ""}));
    EXPECT_EQ(split_folder_argument("/data/photos=.."), (FolderSplit{"/data/photos", ".."}));
}

TEST(SplitFolderArgumentTest, LastEqualsSignSplits)
{
    EXPECT_EQ(split_folder_argument("/data/a=b=name"), (FolderSplit{"/data/a=b", "name"}));
    EXPECT_EQ(split_folder_argument("/x=y/z="), (FolderSplit{"/x=y/z", ""}));
    EXPECT_EQ(split_folder_argument("==n"), (FolderSplit{"=", "n"}));
}

TEST(SplitFolderArgumentTest, NameDefaultsToTheBasename)
{
    EXPECT_EQ(split_folder_argument("/data/photos"), (FolderSplit{"/data/photos", "photos"}));
    EXPECT_EQ(split_folder_argument("photos"), (FolderSplit{"photos", "photos"}));
    EXPECT_EQ(split_folder_argument("./a/b"), (FolderSplit{"./a/b", "b"}));
}

TEST(SplitFolderArgumentTest, TrailingSlashesAndDotsAreIgnoredForTheName)
{
    // The path is kept as given; only the default name is derived from its normal form.
    EXPECT_EQ(split_folder_argument("/data/photos/"), (FolderSplit{"/data/photos/", "photos"}));
    EXPECT_EQ(split_folder_argument("photos/"), (FolderSplit{"photos/", "photos"}));
    EXPECT_EQ(split_folder_argument("/data/photos//"), (FolderSplit{"/data/photos//", "photos"}));
    EXPECT_EQ(split_folder_argument("/data/photos/."), (FolderSplit{"/data/photos/.", "photos"}));
    EXPECT_EQ(split_folder_argument("/data/photos/../docs"), (FolderSplit{"/data/photos/../docs", "docs"}));
    EXPECT_EQ(split_folder_argument("/data/photos/.."), (FolderSplit{"/data/photos/..", "data"}));
}

TEST(SplitFolderArgumentTest, RootHasNoName)
{
    EXPECT_EQ(split_folder_argument("/"), (FolderSplit{"/", ""}));
}

// ---- default_server_name ----------------------------------------------------------------------------

TEST(DefaultServerNameTest, DnsNameIsUsedAsIs)
{
    EXPECT_EQ(default_server_name(HostPort{"sync.example.com", 7443}), "sync.example.com");
    EXPECT_EQ(default_server_name(HostPort{"localhost", 1}), "localhost");
}

TEST(DefaultServerNameTest, IpLiteralGetsTheDefaultCertificateName)
{
    EXPECT_EQ(default_server_name(HostPort{"127.0.0.1", 7443}), "mini-rsync-server");
    EXPECT_EQ(default_server_name(HostPort{"10.1.2.3", 7443}), "mini-rsync-server");
    EXPECT_EQ(default_server_name(HostPort{"::1", 7443}), "mini-rsync-server");
    EXPECT_EQ(default_server_name(HostPort{"fe80::1", 7443}), "mini-rsync-server");
}

// ---- environment ------------------------------------------------------------------------------------

// Saves the variables default_state_path() reads and puts them back, so tests may set or unset them.
class EnvironmentTest : public test::SandboxedTest {
protected:
    static constexpr const char* Variables[] = {"STATE_DIRECTORY", "XDG_STATE_HOME", "HOME"};

    void SetUp() override
    {
        SandboxedTest::SetUp();
        for (const char* name : Variables) {
            const char* value = std::getenv(name);
            saved_[name] = value != nullptr ? std::optional<std::string>{value} : std::nullopt;
        }
    }

    void TearDown() override
    {
        for (const auto& [name, value] : saved_) {
            if (value) {
                ::setenv(name.c_str(), value->c_str(), 1);
            } else {
                ::unsetenv(name.c_str());
            }
        }
        SandboxedTest::TearDown();
    }

    // nullptr unsets.
    static void set(const char* name, const char* value)
    {
        if (value == nullptr) {
            ASSERT_EQ(::unsetenv(name), 0) << name;
        } else {
            ASSERT_EQ(::setenv(name, value, 1), 0) << name;
        }
    }

private:
    std::map<std::string, std::optional<std::string>> saved_;
};

using DefaultStatePathTest = EnvironmentTest;

TEST_F(DefaultStatePathTest, StateDirectoryUnderSystemd)
{
    set("STATE_DIRECTORY", "/var/lib/minisync");
    set("XDG_STATE_HOME", "/xdg/state");
    set("HOME", "/home/user");
    EXPECT_EQ(default_state_path(), "/var/lib/minisync/state.db");
}

TEST_F(DefaultStatePathTest, FirstOfSeveralStateDirectories)
{
    set("STATE_DIRECTORY", "/var/lib/minisync:/var/lib/other:/var/lib/third");
    set("XDG_STATE_HOME", nullptr);
    EXPECT_EQ(default_state_path(), "/var/lib/minisync/state.db");
}

TEST_F(DefaultStatePathTest, XdgStateHome)
{
    set("STATE_DIRECTORY", nullptr);
    set("XDG_STATE_HOME", "/xdg/state");
    set("HOME", "/home/user");
    EXPECT_EQ(default_state_path(), "/xdg/state/minisync/state.db");
}

TEST_F(DefaultStatePathTest, EmptyStateDirectoryIsIgnored)
{
    set("STATE_DIRECTORY", "");
    set("XDG_STATE_HOME", "/xdg/state");
    EXPECT_EQ(default_state_path(), "/xdg/state/minisync/state.db");
}

TEST_F(DefaultStatePathTest, HomeWhenXdgStateHomeIsUnsetEmptyOrRelative)
{
    set("STATE_DIRECTORY", nullptr);
    set("HOME", "/home/user");
    for (const char* xdg : {static_cast<const char*>(nullptr), "", "relative/state"}) {
        set("XDG_STATE_HOME", xdg);
        EXPECT_EQ(default_state_path(), "/home/user/.local/state/minisync/state.db")
            << "XDG_STATE_HOME=" << (xdg != nullptr ? xdg : "(unset)");
    }
}

// ---- parse_agent_args -------------------------------------------------------------------------------

struct ParseOutcome {
    ParsedAgentArgs result;
    std::string err; // what the parser printed on stderr
};

class ParseAgentArgsTest : public EnvironmentTest {
protected:
    void SetUp() override
    {
        EnvironmentTest::SetUp();
        set("STATE_DIRECTORY", nullptr);
        set("XDG_STATE_HOME", (sandbox() / "xdg").c_str());
    }

    // Makes a directory in the sandbox and returns its path.
    std::string make_dir(const std::string& relative) const
    {
        const std::filesystem::path dir = sandbox() / relative;
        std::filesystem::create_directories(dir);
        return dir.string();
    }

    static ParseOutcome parse(std::initializer_list<std::string> args)
    {
        std::vector<std::string> storage{"minisyncd"};
        storage.insert(storage.end(), args.begin(), args.end());
        std::vector<const char*> argv;
        for (const std::string& arg : storage) {
            argv.push_back(arg.c_str());
        }
        ::testing::internal::CaptureStderr();
        ::testing::internal::CaptureStdout();
        ParsedAgentArgs result = parse_agent_args(static_cast<int>(argv.size()), argv.data());
        ::testing::internal::GetCapturedStdout();
        std::string err = ::testing::internal::GetCapturedStderr();
        return {std::move(result), std::move(err)};
    }

    // Expects a usage error (exit code 2) whose message contains needle.
    static void expect_usage_error(std::initializer_list<std::string> args, const std::string& needle)
    {
        const ParseOutcome outcome = parse(args);
        ASSERT_TRUE(std::holds_alternative<int>(outcome.result)) << "accepted; expected: " << needle;
        EXPECT_EQ(std::get<int>(outcome.result), 2) << outcome.err;
        EXPECT_NE(outcome.err.find(needle), std::string::npos) << "stderr: " << outcome.err;
    }
};

TEST_F(ParseAgentArgsTest, ExcludeTakesOneValueSoAFolderAfterItStaysAFolder)
{
    const std::string photos = make_dir("photos");
    const ParseOutcome outcome = parse({"--exclude", "*.o", photos, "--exclude", "build/**"});
    ASSERT_TRUE(std::holds_alternative<AgentSettings>(outcome.result)) << outcome.err;
    const AgentSettings& s = std::get<AgentSettings>(outcome.result);
    EXPECT_EQ(s.excludes, (std::vector<std::string>{"*.o", "build/**"}));
    ASSERT_EQ(s.folders.size(), 1U);
    EXPECT_EQ(s.folders[0].name, "photos");
}

TEST_F(ParseAgentArgsTest, ValidRun)
{
    const std::string photos = make_dir("photos");
    const std::string docs = make_dir("docs");
    const std::string state = (sandbox() / "state.db").string();
    const ParseOutcome outcome =
        parse({"--server", "sync.example.com:8443", "--state", state, "--bwlimit", "500K", "--exclude", "*.tmp",
               "--exclude", "build/", "--workers", "8", "--log-level", "debug", "--metrics", "127.0.0.1:9100",
               "--control", "/run/minisync/ctl.sock", "--cert", "c.pem", "--key", "k.pem", "--ca", "ca.pem",
               photos + "/", docs + "=work"});
    ASSERT_TRUE(std::holds_alternative<AgentSettings>(outcome.result)) << outcome.err;
    const AgentSettings& s = std::get<AgentSettings>(outcome.result);
    EXPECT_EQ(s.server.host, "sync.example.com");
    EXPECT_EQ(s.server.port, 8443);
    EXPECT_EQ(s.server_name, "sync.example.com");
    EXPECT_EQ(s.state_path, state);
    EXPECT_EQ(s.bwlimit, std::optional<std::uint64_t>{500 * 1024});
    EXPECT_EQ(s.excludes, (std::vector<std::string>{"*.tmp", "build/"}));
    EXPECT_EQ(s.workers, 8U);
    EXPECT_EQ(s.log_level, spdlog::level::debug);
    ASSERT_TRUE(s.metrics.has_value());
    EXPECT_EQ(s.metrics->host, "127.0.0.1");
    EXPECT_EQ(s.metrics->port, 9100);
    EXPECT_EQ(s.control_socket, "/run/minisync/ctl.sock");
    EXPECT_EQ(s.tls.cert, "c.pem");
    EXPECT_EQ(s.tls.key, "k.pem");
    EXPECT_EQ(s.tls.ca, "ca.pem");

    ASSERT_EQ(s.folders.size(), 2U);
    EXPECT_EQ(s.folders[0].name, "photos");
    EXPECT_EQ(s.folders[0].path, std::filesystem::canonical(photos).string());
    EXPECT_EQ(s.folders[1].name, "work");
    EXPECT_EQ(s.folders[1].path, std::filesystem::canonical(docs).string());
    EXPECT_TRUE(std::filesystem::path{s.folders[0].path}.is_absolute());
}

TEST_F(ParseAgentArgsTest, DefaultsWithOnlyAFolder)
{
    const std::string folder = make_dir("only");
    const ParseOutcome outcome = parse({folder});
    ASSERT_TRUE(std::holds_alternative<AgentSettings>(outcome.result)) << outcome.err;
    const AgentSettings& s = std::get<AgentSettings>(outcome.result);
    EXPECT_EQ(s.server.host, "127.0.0.1");
    EXPECT_EQ(s.server.port, 7443);
    EXPECT_EQ(s.server_name, "mini-rsync-server");
    EXPECT_EQ(s.state_path, (sandbox() / "xdg" / "minisync" / "state.db").string());
    EXPECT_EQ(s.bwlimit, std::nullopt);
    EXPECT_EQ(s.metrics, std::nullopt);
    EXPECT_EQ(s.workers, 4U);
    EXPECT_EQ(s.log_level, spdlog::level::info);
    EXPECT_TRUE(s.excludes.empty());
    ASSERT_EQ(s.folders.size(), 1U);
    EXPECT_EQ(s.folders[0].name, "only");
}

TEST_F(ParseAgentArgsTest, ServerNameOverridesTheDefault)
{
    const std::string folder = make_dir("f");
    const ParseOutcome outcome = parse({"--server", "[::1]:7443", "--server-name", "sync.internal", folder});
    ASSERT_TRUE(std::holds_alternative<AgentSettings>(outcome.result)) << outcome.err;
    const AgentSettings& s = std::get<AgentSettings>(outcome.result);
    EXPECT_EQ(s.server.host, "::1");
    EXPECT_EQ(s.server_name, "sync.internal");
}

TEST_F(ParseAgentArgsTest, RelativeFolderIsMadeAbsolute)
{
    const std::string folder = make_dir("a/b");
    const std::filesystem::path cwd = std::filesystem::current_path();
    std::filesystem::current_path(sandbox());
    const ParseOutcome outcome = parse({"a/b/"});
    std::filesystem::current_path(cwd);
    ASSERT_TRUE(std::holds_alternative<AgentSettings>(outcome.result)) << outcome.err;
    const AgentSettings& s = std::get<AgentSettings>(outcome.result);
    ASSERT_EQ(s.folders.size(), 1U);
    EXPECT_EQ(s.folders[0].path, std::filesystem::canonical(folder).string());
    EXPECT_EQ(s.folders[0].name, "b");
}

TEST_F(ParseAgentArgsTest, HelpExitsZero)
{
    const ParseOutcome outcome = parse({"--help"});
    ASSERT_TRUE(std::holds_alternative<int>(outcome.result));
    EXPECT_EQ(std::get<int>(outcome.result), 0);
}

TEST_F(ParseAgentArgsTest, BadServerIsAUsageError)
{
    const std::string folder = make_dir("f");
    for (const char* server : {"sync.example.com", "sync.example.com:", ":7443", "host:0", "host:65536", "host:port",
                               "a:b:7443", "[::1]7443"}) {
        SCOPED_TRACE(server);
        expect_usage_error({"--server", server, folder}, "--server");
    }
}

TEST_F(ParseAgentArgsTest, BadMetricsIsAUsageError)
{
    const std::string folder = make_dir("f");
    expect_usage_error({"--metrics", "9100", folder}, "--metrics");
}

TEST_F(ParseAgentArgsTest, BadBwlimitIsAUsageError)
{
    const std::string folder = make_dir("f");
    for (const char* rate : {"0", "0K", "fast", "-5", "10X", "5 M", "99999999999999999999"}) {
        SCOPED_TRACE(rate);
        expect_usage_error({"--bwlimit", rate, folder}, "--bwlimit");
    }
}

TEST_F(ParseAgentArgsTest, OutOfRangeOptionsAreUsageErrors)
{
    const std::string folder = make_dir("f");
    for (const char* workers : {"0", "257", "many"}) {
        SCOPED_TRACE(workers);
        expect_usage_error({"--workers", workers, folder}, "--workers");
    }
    expect_usage_error({"--log-level", "verbose", folder}, "--log-level");
    expect_usage_error({"--no-such-option", folder}, "--no-such-option");
}

TEST_F(ParseAgentArgsTest, InvalidFolderNameIsAUsageError)
{
    const std::string folder = make_dir("f");
    expect_usage_error({folder + "=.."}, "invalid folder name '..'");
    expect_usage_error({folder + "=."}, "invalid folder name '.'");
    expect_usage_error({folder + "="}, "invalid folder name ''");
    expect_usage_error({folder + "=" + std::string(256, 'n')}, "invalid folder name");
    // Without a name the directory's real name is used; the root directory has none.
    expect_usage_error({"/"}, "invalid folder name ''");
}

TEST_F(ParseAgentArgsTest, DotAndDotDotAreNamedAfterTheRealDirectory)
{
    const std::filesystem::path child = make_dir("real-parent/real-child");
    for (const auto& [argument, expected] : {std::pair{child / ".", "real-child"}, std::pair{child / "..", "real-parent"}}) {
        const ParseOutcome outcome = parse({argument.string()});
        ASSERT_TRUE(std::holds_alternative<AgentSettings>(outcome.result)) << argument << ": " << outcome.err;
        const AgentSettings& settings = std::get<AgentSettings>(outcome.result);
        ASSERT_EQ(settings.folders.size(), 1U);
        EXPECT_EQ(settings.folders[0].name, expected) << argument;
        EXPECT_EQ(settings.folders[0].path, std::filesystem::canonical(argument).string());
    }
}

TEST_F(ParseAgentArgsTest, MissingFolderIsAUsageError)
{
    expect_usage_error({}, "no folder to sync");
    expect_usage_error({"--server", "example.com:7443"}, "no folder to sync");
}

TEST_F(ParseAgentArgsTest, FolderThatIsNotADirectoryIsAUsageError)
{
    const std::string missing = (sandbox() / "missing").string();
    expect_usage_error({missing}, "'" + missing + "' is not an existing directory");

    const std::string file = (sandbox() / "plain-file").string();
    std::ofstream{file} << "x";
    expect_usage_error({file}, "'" + file + "' is not an existing directory");
}

TEST_F(ParseAgentArgsTest, DuplicateFolderNamesAreAUsageError)
{
    const std::string a = make_dir("one/same");
    const std::string b = make_dir("two/same");
    const std::string c = make_dir("three");
    expect_usage_error({a, b}, "folder name 'same' is used twice");
    expect_usage_error({a, c + "=same"}, "folder name 'same' is used twice");
    expect_usage_error({c, c}, "folder name 'three' is used twice");

    // Renaming one of them resolves the clash.
    const ParseOutcome outcome = parse({a, b + "=same2"});
    ASSERT_TRUE(std::holds_alternative<AgentSettings>(outcome.result)) << outcome.err;
    EXPECT_EQ(std::get<AgentSettings>(outcome.result).folders.size(), 2U);
}

} // namespace
} // namespace minisync::agent
