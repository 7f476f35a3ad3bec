// Tests for minisyncd's settings: FOLDER[=NAME] splitting, the default server name and state path,
// command-line parsing of a valid run and of each kind of usage error, the config file (every key, how the
// command line layers over it, each kind of error with its line), reloads, and the shipped example.
#include "agent_settings.h"

#include "sandbox.h"

#include <gtest/gtest.h>

#include <grp.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <map>
#include <optional>
#include <regex>
#include <sstream>
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

    static ParseOutcome parse(const std::vector<std::string>& args)
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
    static void expect_usage_error(const std::vector<std::string>& args, const std::string& needle)
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
    const std::string file = (sandbox() / "plain-file").string();
    std::ofstream{file} << "x";
    expect_usage_error({file}, "'" + file + "' is not a directory");
    expect_usage_error({file + "/below"}, "'" + file + "/below' cannot be looked at");
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

// ---- the config file --------------------------------------------------------------------------------

class AgentConfigTest : public ParseAgentArgsTest {
protected:
    // Writes text to a file in the sandbox and returns its path.
    std::string write_config(const std::string& relative, const std::string& text) const
    {
        const std::filesystem::path path = sandbox() / relative;
        std::filesystem::create_directories(path.parent_path());
        std::ofstream{path} << text;
        return path.string();
    }

    static AgentSettings parse_ok(const std::vector<std::string>& args)
    {
        ParseOutcome outcome = parse(args);
        if (!std::holds_alternative<AgentSettings>(outcome.result)) {
            ADD_FAILURE() << "refused: " << outcome.err;
            return {};
        }
        EXPECT_EQ(outcome.err, "");
        return std::move(std::get<AgentSettings>(outcome.result));
    }

    // The name of a group this process is in, for control_group.
    static std::string some_group()
    {
        const group* entry = ::getgrgid(::getgid());
        return entry != nullptr ? entry->gr_name : "";
    }

    // Expects exit code 2 and exactly one line on stderr, which starts with "minisyncd: FILE:LINE: " and
    // contains needle.
    void expect_config_error(const std::string& text, std::uint32_t line, const std::string& needle,
                             const std::vector<std::string>& extra_args = {}) const
    {
        const std::string config = write_config("bad.toml", text);
        std::vector<std::string> args{"--config", config};
        args.insert(args.end(), extra_args.begin(), extra_args.end());
        const ParseOutcome outcome = parse(args);
        ASSERT_TRUE(std::holds_alternative<int>(outcome.result)) << "accepted; expected: " << needle;
        EXPECT_EQ(std::get<int>(outcome.result), 2);
        const std::string prefix = "minisyncd: " + config + ":" + std::to_string(line) + ": ";
        EXPECT_EQ(outcome.err.rfind(prefix, 0), 0U) << "stderr: " << outcome.err << "expected prefix: " << prefix;
        EXPECT_NE(outcome.err.find(needle), std::string::npos) << "stderr: " << outcome.err;
        EXPECT_EQ(std::count(outcome.err.begin(), outcome.err.end(), '\n'), 1) << "stderr: " << outcome.err;
    }
};

TEST_F(AgentConfigTest, EveryKeyFromTheFile)
{
    const std::string group = some_group();
    if (group.empty()) {
        GTEST_SKIP() << "this process's group has no name";
    }
    const std::string photos = make_dir("data/photos");
    const std::string docs = make_dir("data/docs");
    const std::string config = write_config("etc/minisyncd.toml", R"(
server = "sync.example.com:8443"
server_name = "sync.internal"
cert = "/pki/c.pem"
key = "/pki/k.pem"
ca = "/pki/ca.pem"
state = "/var/lib/ms/state.db"
control = "/run/ms/ctl.sock"
control_group = ")" + group + R"("
metrics = "127.0.0.1:9100"
workers = 8
bwlimit = "500K"
exclude = ["*.tmp", "build/"]
log_level = "debug"

[[folder]]
path = ")" + photos + R"("

[[folder]]
path = ")" + docs + R"("
name = "work"
exclude = ["*.bak", "cache/**"]
)");
    const AgentSettings s = parse_ok({"--config", config});
    EXPECT_EQ(s.server.host, "sync.example.com");
    EXPECT_EQ(s.server.port, 8443);
    EXPECT_EQ(s.server_name, "sync.internal");
    EXPECT_EQ(s.tls.cert, "/pki/c.pem");
    EXPECT_EQ(s.tls.key, "/pki/k.pem");
    EXPECT_EQ(s.tls.ca, "/pki/ca.pem");
    EXPECT_EQ(s.state_path, "/var/lib/ms/state.db");
    EXPECT_EQ(s.control_socket, "/run/ms/ctl.sock");
    EXPECT_EQ(s.control_group, std::optional<std::string>{group});
    ASSERT_TRUE(s.metrics.has_value());
    EXPECT_EQ(s.metrics->to_string(), "127.0.0.1:9100");
    EXPECT_EQ(s.workers, 8U);
    EXPECT_EQ(s.bwlimit, std::optional<std::uint64_t>{500 * 1024});
    EXPECT_EQ(s.excludes, (std::vector<std::string>{"*.tmp", "build/"}));
    EXPECT_EQ(s.log_level, spdlog::level::debug);
    ASSERT_EQ(s.folders.size(), 2U);
    EXPECT_EQ(s.folders[0].path, std::filesystem::canonical(photos).string());
    EXPECT_EQ(s.folders[0].name, "photos");
    EXPECT_TRUE(s.folders[0].excludes.empty());
    EXPECT_EQ(s.folders[1].path, std::filesystem::canonical(docs).string());
    EXPECT_EQ(s.folders[1].name, "work");
    EXPECT_EQ(s.folders[1].excludes, (std::vector<std::string>{"*.bak", "cache/**"}));
}

TEST_F(AgentConfigTest, AFileWithOnlyFoldersKeepsTheDefaults)
{
    const std::string folder = make_dir("only");
    const std::string config = write_config("a.toml", "[[folder]]\npath = \"" + folder + "\"\n");
    const AgentSettings s = parse_ok({"--config", config});
    const AgentSettings defaults;
    EXPECT_EQ(s.server.to_string(), "127.0.0.1:7443");
    EXPECT_EQ(s.server_name, "mini-rsync-server");
    EXPECT_EQ(s.tls.cert, defaults.tls.cert);
    EXPECT_EQ(s.state_path, (sandbox() / "xdg" / "minisync" / "state.db").string());
    EXPECT_EQ(s.control_socket, "");
    EXPECT_EQ(s.control_group, std::nullopt);
    EXPECT_EQ(s.metrics, std::nullopt);
    EXPECT_EQ(s.workers, 4U);
    EXPECT_EQ(s.bwlimit, std::nullopt);
    EXPECT_TRUE(s.excludes.empty());
    EXPECT_EQ(s.log_level, spdlog::level::info);
    ASSERT_EQ(s.folders.size(), 1U);
    EXPECT_EQ(s.folders[0].name, "only");
}

TEST_F(AgentConfigTest, ServerNameDefaultsToTheFilesServerHost)
{
    const std::string folder = make_dir("f");
    const std::string config =
        write_config("a.toml", "server = \"backup.example.org:7443\"\n[[folder]]\npath = \"" + folder + "\"\n");
    EXPECT_EQ(parse_ok({"--config", config}).server_name, "backup.example.org");
    // A server given on the command line wins, and so does the name derived from it.
    EXPECT_EQ(parse_ok({"--config", config, "--server", "other.example.org:1"}).server_name, "other.example.org");
}

TEST_F(AgentConfigTest, CommandLineOverridesTheFile)
{
    const std::string folder = make_dir("f");
    const std::string config = write_config("a.toml", R"(
server = "file.example.com:1000"
server_name = "file-name"
cert = "/file/c.pem"
key = "/file/k.pem"
state = "/file/state.db"
metrics = "127.0.0.1:1"
workers = 2
bwlimit = 1000
exclude = ["*.file"]
log_level = "error"
[[folder]]
path = ")" + folder + R"("
exclude = ["per-folder"]
)");
    const AgentSettings s = parse_ok({"--config", config, "--server", "cli.example.com:2000", "--workers", "16",
                                      "--bwlimit", "2M", "--exclude", "*.cli", "--log-level", "trace", "--cert",
                                      "rel/c.pem", "--state", "", "--server-name", ""});
    EXPECT_EQ(s.server.to_string(), "cli.example.com:2000");
    EXPECT_EQ(s.workers, 16U);
    EXPECT_EQ(s.bwlimit, std::optional<std::uint64_t>{2 * 1024 * 1024});
    EXPECT_EQ(s.excludes, (std::vector<std::string>{"*.cli"})) << "--exclude replaces the file's list";
    ASSERT_EQ(s.folders.size(), 1U);
    EXPECT_EQ(s.folders[0].excludes, (std::vector<std::string>{"per-folder"})) << "per-folder excludes stay";
    EXPECT_EQ(s.log_level, spdlog::level::trace);
    EXPECT_EQ(s.tls.cert, "rel/c.pem") << "a command-line path stays relative to the working directory";
    EXPECT_EQ(s.server_name, "cli.example.com") << "an empty --server-name asks for the default";
    EXPECT_EQ(s.state_path, (sandbox() / "xdg" / "minisync" / "state.db").string())
        << "an empty --state asks for the default";
    // Flags not given leave the file's values alone.
    EXPECT_EQ(s.tls.key, "/file/k.pem");
    ASSERT_TRUE(s.metrics.has_value());
    EXPECT_EQ(s.metrics->to_string(), "127.0.0.1:1");
}

TEST_F(AgentConfigTest, BwlimitAsIntegerOrString)
{
    const std::string folder = make_dir("f");
    const std::string tail = "\n[[folder]]\npath = \"" + folder + "\"\n";
    const std::pair<const char*, std::uint64_t> cases[] = {
        {"bwlimit = 512000", 512000}, {"bwlimit = \"500K\"", 500 * 1024}, {"bwlimit = \"10M\"", 10 << 20},
        {"bwlimit = \"2G\"", 2ULL << 30}, {"bwlimit = \"7\"", 7}};
    for (const auto& [line, expected] : cases) {
        SCOPED_TRACE(line);
        const std::string config = write_config("a.toml", line + tail);
        EXPECT_EQ(parse_ok({"--config", config}).bwlimit, std::optional<std::uint64_t>{expected});
    }
}

TEST_F(AgentConfigTest, CommandLineFoldersAreAddedToTheFilesFolders)
{
    const std::string a = make_dir("a");
    const std::string b = make_dir("b");
    const std::string c = make_dir("c");
    const std::string config =
        write_config("a.toml", "[[folder]]\npath = \"" + a + "\"\n[[folder]]\npath = \"" + b + "\"\nname = \"bee\"\n");
    const AgentSettings s = parse_ok({"--config", config, c + "=sea"});
    ASSERT_EQ(s.folders.size(), 3U);
    EXPECT_EQ(s.folders[0].name, "a");
    EXPECT_EQ(s.folders[1].name, "bee");
    EXPECT_EQ(s.folders[2].name, "sea");
    EXPECT_EQ(s.folders[2].path, std::filesystem::canonical(c).string());
}

TEST_F(AgentConfigTest, CommandLineFoldersAloneWithAFileWithoutFolders)
{
    const std::string a = make_dir("a");
    const std::string config = write_config("a.toml", "workers = 3\n");
    const AgentSettings s = parse_ok({"--config", config, a});
    EXPECT_EQ(s.workers, 3U);
    ASSERT_EQ(s.folders.size(), 1U);
}

TEST_F(AgentConfigTest, NoFolderAnywhereIsAnError)
{
    const std::string config = write_config("a.toml", "workers = 3\n");
    expect_usage_error({"--config", config}, "no folder to sync");
}

TEST_F(AgentConfigTest, RelativePathsAreRelativeToTheConfigFile)
{
    make_dir("etc/minisync/photos");
    make_dir("elsewhere/music");
    const std::string config = write_config("etc/minisync/minisyncd.toml", R"(
cert = "pki/client.crt"
key = "./pki/client.key"
ca = "../ca.crt"
state = "state/state.db"
control = "run/ctl.sock"
[[folder]]
path = "photos"
[[folder]]
path = "../../elsewhere/music"
)");
    // Run from somewhere else: the working directory must not matter.
    const std::filesystem::path cwd = std::filesystem::current_path();
    std::filesystem::current_path(make_dir("work"));
    const AgentSettings s = parse_ok({"--config", config});
    std::filesystem::current_path(cwd);
    const std::filesystem::path dir = sandbox() / "etc" / "minisync";
    EXPECT_EQ(s.tls.cert, (dir / "pki/client.crt").string());
    EXPECT_EQ(s.tls.key, (dir / "pki/client.key").string());
    EXPECT_EQ(s.tls.ca, (sandbox() / "etc/ca.crt").string());
    EXPECT_EQ(s.state_path, (dir / "state/state.db").string());
    EXPECT_EQ(s.control_socket, (dir / "run/ctl.sock").string());
    ASSERT_EQ(s.folders.size(), 2U);
    EXPECT_EQ(s.folders[0].path, std::filesystem::canonical(dir / "photos").string());
    EXPECT_EQ(s.folders[0].name, "photos");
    EXPECT_EQ(s.folders[1].path, std::filesystem::canonical(sandbox() / "elsewhere/music").string());
    EXPECT_EQ(s.folders[1].name, "music");
}

TEST_F(AgentConfigTest, RelativeConfigPathIsTakenFromTheWorkingDirectory)
{
    make_dir("conf/f");
    write_config("conf/a.toml", "cert = \"c.pem\"\n[[folder]]\npath = \"f\"\n");
    const std::filesystem::path cwd = std::filesystem::current_path();
    std::filesystem::current_path(sandbox());
    const ParseOutcome outcome = parse({"--config", "conf/a.toml"});
    std::filesystem::current_path(cwd);
    ASSERT_TRUE(std::holds_alternative<AgentSettings>(outcome.result)) << outcome.err;
    const AgentSettings& s = std::get<AgentSettings>(outcome.result);
    EXPECT_EQ(s.tls.cert, (sandbox() / "conf/c.pem").string());
    ASSERT_EQ(s.folders.size(), 1U);
    EXPECT_EQ(s.folders[0].path, std::filesystem::canonical(sandbox() / "conf/f").string());
}

TEST_F(AgentConfigTest, MissingConfigFileIsNamed)
{
    const std::string missing = (sandbox() / "nope.toml").string();
    const ParseOutcome outcome = parse({"--config", missing, make_dir("f")});
    ASSERT_TRUE(std::holds_alternative<int>(outcome.result));
    EXPECT_EQ(std::get<int>(outcome.result), 2);
    EXPECT_EQ(outcome.err, "minisyncd: couldn't open '" + missing + "': No such file or directory (2)\n");
}

TEST_F(AgentConfigTest, UnparsableFileGivesLineAndColumn)
{
    const std::string config = write_config("bad.toml", "workers = 4\n\nbwlimit = \"5M\n");
    const ParseOutcome outcome = parse({"--config", config, make_dir("f")});
    ASSERT_TRUE(std::holds_alternative<int>(outcome.result));
    EXPECT_EQ(std::get<int>(outcome.result), 2);
    EXPECT_TRUE(std::regex_search(outcome.err, std::regex{"^minisyncd: " + config + ":3:[0-9]+: .+\n$"}))
        << outcome.err;
}

TEST_F(AgentConfigTest, UnknownKeysNameTheKeyAndLine)
{
    const std::string folder = make_dir("f");
    expect_config_error("workers = 4\nbwlimt = \"5M\"\n[[folder]]\npath = \"" + folder + "\"\n", 2,
                        "unknown key 'bwlimt' (did you mean 'bwlimit'?)");
    expect_config_error("[[folder]]\npath = \"" + folder + "\"\n\nexcludes = [\"x\"]\n", 4,
                        "unknown key 'folder.excludes' (did you mean 'folder.exclude'?)");
    expect_config_error("config = \"/etc/other.toml\"\n[[folder]]\npath = \"" + folder + "\"\n", 1,
                        "unknown key 'config'");
    expect_config_error("[[folder]]\npath = \"" + folder + "\"\n[tuning]\nworkers = 2\n", 3, "unknown key 'tuning'");
}

TEST_F(AgentConfigTest, BadValuesNameTheKeyAndLine)
{
    const std::string folder = make_dir("f");
    const std::string tail = "\n[[folder]]\npath = \"" + folder + "\"\n";
    expect_config_error("\nworkers = \"8\"" + tail, 2, "key 'workers': expected an integer from 1 to 256, got '8'");
    expect_config_error("workers = -1" + tail, 1, "key 'workers': expected an integer from 1 to 256, got -1");
    expect_config_error("workers = 0" + tail, 1, "key 'workers': expected an integer from 1 to 256");
    expect_config_error("workers = 257" + tail, 1, "key 'workers': expected an integer from 1 to 256");
    expect_config_error("server = \"example.com\"" + tail, 1, "key 'server': expected HOST:PORT");
    expect_config_error("server = \"example.com:0\"" + tail, 1, "key 'server': expected HOST:PORT");
    expect_config_error("metrics = \"9100\"" + tail, 1, "key 'metrics': expected ADDR:PORT");
    expect_config_error("log_level = \"verbose\"" + tail, 1,
                        "key 'log_level': expected one of trace, debug, info, warn, error, got 'verbose'");
    expect_config_error("bwlimit = 0" + tail, 1, "key 'bwlimit': expected a rate in bytes per second");
    expect_config_error("bwlimit = -5" + tail, 1, "key 'bwlimit': expected a rate in bytes per second");
    expect_config_error("bwlimit = \"fast\"" + tail, 1, "key 'bwlimit': expected a rate in bytes per second");
    expect_config_error("exclude = \"*.tmp\"" + tail, 1, "key 'exclude': expected an array");
    expect_config_error("exclude = [\"*.tmp\", 3]" + tail, 1, "key 'exclude', element 2: expected a non-empty pattern");
    expect_config_error("cert = \"\"" + tail, 1, "key 'cert': expected a non-empty path, got ''");
    expect_config_error("state = 5" + tail, 1, "key 'state': expected a non-empty path, got 5");
    expect_config_error("server_name = \"\"" + tail, 1, "key 'server_name': expected a non-empty name");
    expect_config_error("control_group = \"no-such-group-minisync\"" + tail, 1,
                        "key 'control_group': expected the name of an existing group, got 'no-such-group-minisync'");
}

// A folder that does not exist yet is started missing, not refused: one absent disk must not stop every
// other folder's backup. Its path is made absolute through what exists of it.
TEST_F(AgentConfigTest, AFolderThatDoesNotExistIsAccepted)
{
    const std::string real = make_dir("real");
    std::filesystem::create_directory_symlink(real, sandbox() / "link");
    const AgentSettings settings = parse_ok({(sandbox() / "link" / "later").string(), "elsewhere/"});
    ASSERT_EQ(settings.folders.size(), 2U);
    EXPECT_EQ(settings.folders[0].path, real + "/later");
    EXPECT_EQ(settings.folders[0].name, "later");
    EXPECT_EQ(settings.folders[1].path, (std::filesystem::current_path() / "elsewhere").string());
    EXPECT_EQ(settings.folders[1].name, "elsewhere");
}

TEST_F(AgentConfigTest, BadFoldersNameTheKeyAndLine)
{
    const std::string folder = make_dir("f");
    const std::string file = (sandbox() / "plain-file").string();
    std::ofstream{file} << "x";
    expect_config_error("[[folder]]\npath = \"" + file + "/below\"\n", 2,
                        "key 'folder.path': '" + file + "/below' cannot be looked at");
    expect_config_error("[[folder]]\n\npath = \"" + file + "\"\n", 3,
                        "key 'folder.path': '" + file + "' is not a directory");
    expect_config_error("[[folder]]\npath = \"" + folder + "\"\none_file_system = \"no\"\n", 3,
                        "key 'folder.one_file_system': expected true or false");
    expect_config_error("[[folder]]\nname = \"x\"\n", 1, "missing key 'folder.path'");
    expect_config_error("[[folder]]\npath = \"" + folder + "\"\nname = \"..\"\n", 3,
                        "key 'folder.name': expected a folder name: one path component of 1-255 bytes, not '.' or "
                        "'..', got '..'");
    expect_config_error("[[folder]]\npath = \"" + folder + "\"\nname = \"a/b\"\n", 3, "key 'folder.name': expected");
    expect_config_error("[[folder]]\npath = \"" + folder + "\"\nname = \"\"\n", 3, "key 'folder.name': expected");
    expect_config_error("[[folder]]\npath = \"/\"\n", 2, "key 'folder.path': '/' has no name to use on the server");
    expect_config_error("[[folder]]\npath = \"" + folder + "\"\nexclude = \"*.o\"\n", 3,
                        "key 'folder.exclude': expected an array");
    expect_config_error("[[folder]]\npath = 7\n", 2, "key 'folder.path': expected a non-empty path, got 7");
    expect_config_error("[folder]\npath = \"" + folder + "\"\n", 1,
                        "key 'folder': expected tables written as [[folder]]");
}

TEST_F(AgentConfigTest, DuplicateFolderNamesAreErrors)
{
    const std::string a = make_dir("one/same");
    const std::string b = make_dir("two/same");
    const std::string c = make_dir("three");
    // Both in the file: the second is reported, and points at the first.
    const std::string two_in_file =
        "[[folder]]\npath = \"" + a + "\"\n\n[[folder]]\npath = \"" + b + "\"\n";
    expect_config_error(two_in_file, 5, "key 'folder.path': folder name 'same' is used twice (first at ");
    expect_config_error("[[folder]]\npath = \"" + a + "\"\n[[folder]]\npath = \"" + c + "\"\nname = \"same\"\n", 5,
                        "key 'folder.name': folder name 'same' is used twice");

    // One in the file, one on the command line.
    const std::string config = write_config("one.toml", "[[folder]]\npath = \"" + a + "\"\n");
    expect_usage_error({"--config", config, b}, "folder name 'same' is used twice (also at " + config + ":2)");
    expect_usage_error({"--config", config, c + "=same"}, "folder name 'same' is used twice");
}

// Found by tests/fuzz/fuzz_config_loader: a path or name holding a newline split its message in two.
TEST_F(AgentConfigTest, NewlinesInPathsAndNamesStayOnTheirLine)
{
    const std::string a = make_dir("a");
    const std::string b = make_dir("b");
    std::ofstream{sandbox() / "no\nsuch"} << "a file";
    expect_config_error("[[folder]]\npath = \"no\\nsuch\"\n", 2, "no?such' is not a directory");
    expect_config_error("[[folder]]\npath = \"" + a + "\"\nname = \"x\\ny\"\n[[folder]]\npath = \"" + b +
                            "\"\nname = \"x\\ny\"\n",
                        6, "key 'folder.name': folder name 'x?y' is used twice");

    const std::string one = make_dir("one/x\ny");
    const std::string two = make_dir("two/x\ny");
    for (const auto& [args, needle] : std::vector<std::pair<std::vector<std::string>, std::string>>{
             {{(sandbox() / "no\nsuch").string()}, "folder '" + (sandbox() / "no?such").string() + "' is not a directory"},
             {{one, two}, "folder name 'x?y' is used twice"},
             {{one + "=."}, "invalid folder name '.' for '" + (sandbox() / "one/x?y=.").string() + "'"}}) {
        const ParseOutcome outcome = parse(args);
        ASSERT_TRUE(std::holds_alternative<int>(outcome.result)) << "accepted; expected: " << needle;
        EXPECT_NE(outcome.err.find(needle), std::string::npos) << "stderr: " << outcome.err;
        EXPECT_EQ(std::count(outcome.err.begin(), outcome.err.end(), '\n'), 1) << "stderr: " << outcome.err;
    }
}

TEST_F(AgentConfigTest, EveryErrorIsReportedInLineOrder)
{
    const std::string config =
        write_config("bad.toml", "workers = 0\nbwlimt = 1\nlog_level = \"loud\"\n"
                                 "[[folder]]\npath = \"bad.toml\"\n");
    const ParseOutcome outcome = parse({"--config", config, "--server", "nope"});
    ASSERT_TRUE(std::holds_alternative<int>(outcome.result));
    EXPECT_EQ(std::get<int>(outcome.result), 2);
    std::istringstream lines{outcome.err};
    std::vector<std::string> got;
    for (std::string line; std::getline(lines, line);) {
        got.push_back(line);
    }
    ASSERT_EQ(got.size(), 5U) << outcome.err;
    EXPECT_EQ(got[0].rfind("minisyncd: " + config + ":1: key 'workers'", 0), 0U) << got[0];
    EXPECT_EQ(got[1].rfind("minisyncd: " + config + ":2: unknown key 'bwlimt'", 0), 0U) << got[1];
    EXPECT_EQ(got[2].rfind("minisyncd: " + config + ":3: key 'log_level'", 0), 0U) << got[2];
    EXPECT_EQ(got[3].rfind("minisyncd: " + config + ":5: key 'folder.path'", 0), 0U) << got[3];
    EXPECT_EQ(got[4].rfind("minisyncd: --server: expected HOST:PORT", 0), 0U) << got[4];
}

TEST_F(AgentConfigTest, ControlGroupFromTheCommandLine)
{
    const std::string group = some_group();
    if (group.empty()) {
        GTEST_SKIP() << "this process's group has no name";
    }
    const std::string folder = make_dir("f");
    EXPECT_EQ(parse_ok({"--control-group", group, folder}).control_group, std::optional<std::string>{group});
    expect_usage_error({"--control-group", "no-such-group-minisync", folder},
                       "--control-group: expected the name of an existing group");
}

// ---- reload -----------------------------------------------------------------------------------------

TEST_F(AgentConfigTest, ReloadReadsTheFileAgainAndKeepsTheCommandLine)
{
    const std::string a = make_dir("a");
    const std::string b = make_dir("b");
    const std::string config = write_config("a.toml", "workers = 2\n[[folder]]\npath = \"" + a + "\"\n");
    const std::vector<std::string> argv{"minisyncd", "--config", config, "--log-level", "debug"};

    auto first = reload_agent_settings(argv);
    ASSERT_TRUE(first.ok()) << first.error().message;
    EXPECT_EQ(first.value().workers, 2U);
    EXPECT_EQ(first.value().folders.size(), 1U);

    write_config("a.toml", "workers = 5\nlog_level = \"error\"\n[[folder]]\npath = \"" + a +
                               "\"\n[[folder]]\npath = \"" + b + "\"\n");
    auto second = reload_agent_settings(argv);
    ASSERT_TRUE(second.ok()) << second.error().message;
    const AgentSettings& s = second.value();
    EXPECT_EQ(s.workers, 5U);
    EXPECT_EQ(s.log_level, spdlog::level::debug) << "the command line still wins";
    EXPECT_EQ(s.folders.size(), 2U);
}

TEST_F(AgentConfigTest, FailedReloadReturnsTheMessageAndPrintsNothing)
{
    const std::string config =
        write_config("a.toml", "workers = 0\nwat = 1\n[[folder]]\npath = \"" + make_dir("f") + "\"\n");
    ::testing::internal::CaptureStderr();
    ::testing::internal::CaptureStdout();
    auto result = reload_agent_settings({"minisyncd", "--config", config});
    const std::string out = ::testing::internal::GetCapturedStdout();
    const std::string err = ::testing::internal::GetCapturedStderr();
    EXPECT_EQ(out, "");
    EXPECT_EQ(err, "");
    ASSERT_FALSE(result.ok());
    EXPECT_EQ(result.error().code, ErrorCode::Config);
    EXPECT_EQ(result.error().message,
              "minisyncd: " + config + ":1: key 'workers': expected an integer from 1 to 256, got 0\n" +
                  "minisyncd: " + config + ":2: unknown key 'wat'");

    std::filesystem::remove(config);
    result = reload_agent_settings({"minisyncd", "--config", config});
    ASSERT_FALSE(result.ok());
    EXPECT_EQ(result.error().message,
              "minisyncd: couldn't open '" + config + "': No such file or directory (2)");
}

// ---- the shipped example ----------------------------------------------------------------------------

const std::string ExampleConfig = std::string{MINISYNC_SOURCE_DIR} + "/etc/minisyncd.toml";

TEST_F(AgentConfigTest, ShippedExampleLoads)
{
    // The example leaves its [[folder]] tables commented out, so a folder comes from the command line.
    const std::string folder = make_dir("f");
    const AgentSettings s = parse_ok({"--config", ExampleConfig, folder});
    const std::filesystem::path dir = std::filesystem::path{MINISYNC_SOURCE_DIR} / "etc";
    EXPECT_EQ(s.tls.cert, (dir / "pki/client.crt").string());
    EXPECT_EQ(s.tls.key, (dir / "pki/client.key").string());
    EXPECT_EQ(s.tls.ca, (dir / "pki/ca.crt").string());
    EXPECT_EQ(s.server.to_string(), "127.0.0.1:7443");
    ASSERT_EQ(s.folders.size(), 1U);
}

TEST_F(AgentConfigTest, ShippedExampleDocumentsOnlyRealKeys)
{
    // Uncomment every "#key = value" and "#[[folder]]" line: the keys must all be known and their example
    // values of the right type. Only the example folders (which don't exist here) and the example group
    // may be refused.
    std::ifstream in{ExampleConfig};
    ASSERT_TRUE(in) << ExampleConfig;
    std::string uncommented;
    std::size_t settings = 0;
    const std::regex commented_setting{R"(^#([a-z_]+ = .*|\[\[folder\]\])$)"};
    for (std::string line; std::getline(in, line);) {
        std::smatch match;
        if (std::regex_match(line, match, commented_setting)) {
            line = match[1];
            ++settings;
        }
        uncommented += line + "\n";
    }
    EXPECT_GE(settings, 13U) << "every optional key is shown";
    const std::string config = write_config("etc/uncommented.toml", uncommented);
    const ParseOutcome outcome = parse({"--config", config});
    std::istringstream lines{outcome.err};
    for (std::string line; std::getline(lines, line);) {
        const bool expected = line.find("key 'folder.path': '/") != std::string::npos ||
                              line.find("key 'control_group': expected the name of an existing group") !=
                                  std::string::npos;
        EXPECT_TRUE(expected) << line;
    }
}

} // namespace
} // namespace minisync::agent
