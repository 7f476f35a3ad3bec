// Tests for minisync-server's settings: the command line, the config file (every key, how the command line
// layers over it, each kind of error with its line), reloads, and the shipped example.
#include "server_settings.h"

#include "sandbox.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>
#include <variant>
#include <vector>

namespace minisync::server {
namespace {

using namespace std::chrono_literals;

struct ParseOutcome {
    ParsedServerArgs result;
    std::string err; // what the parser printed on stderr
};

class ServerSettingsTest : public test::SandboxedTest {
protected:
    static ParseOutcome parse(const std::vector<std::string>& args)
    {
        std::vector<std::string> storage{"minisync-server"};
        storage.insert(storage.end(), args.begin(), args.end());
        std::vector<const char*> argv;
        for (const std::string& arg : storage) {
            argv.push_back(arg.c_str());
        }
        ::testing::internal::CaptureStderr();
        ::testing::internal::CaptureStdout();
        ParsedServerArgs result = parse_server_args(static_cast<int>(argv.size()), argv.data());
        ::testing::internal::GetCapturedStdout();
        std::string err = ::testing::internal::GetCapturedStderr();
        return {std::move(result), std::move(err)};
    }

    static ServerSettings parse_ok(const std::vector<std::string>& args)
    {
        ParseOutcome outcome = parse(args);
        if (!std::holds_alternative<ServerSettings>(outcome.result)) {
            ADD_FAILURE() << "refused: " << outcome.err;
            return {};
        }
        EXPECT_EQ(outcome.err, "");
        return std::move(std::get<ServerSettings>(outcome.result));
    }

    static void expect_usage_error(const std::vector<std::string>& args, const std::string& needle)
    {
        const ParseOutcome outcome = parse(args);
        ASSERT_TRUE(std::holds_alternative<int>(outcome.result)) << "accepted; expected: " << needle;
        EXPECT_EQ(std::get<int>(outcome.result), 2) << outcome.err;
        EXPECT_NE(outcome.err.find(needle), std::string::npos) << "stderr: " << outcome.err;
    }

    std::string write_config(const std::string& relative, const std::string& text) const
    {
        const std::filesystem::path path = sandbox() / relative;
        std::filesystem::create_directories(path.parent_path());
        std::ofstream{path} << text;
        return path.string();
    }

    // Expects exit code 2 and one line on stderr starting "minisync-server: FILE:LINE: " and containing needle.
    void expect_config_error(const std::string& text, std::uint32_t line, const std::string& needle) const
    {
        const std::string config = write_config("bad.toml", text);
        const ParseOutcome outcome = parse({"--config", config});
        ASSERT_TRUE(std::holds_alternative<int>(outcome.result)) << "accepted; expected: " << needle;
        EXPECT_EQ(std::get<int>(outcome.result), 2);
        const std::string prefix = "minisync-server: " + config + ":" + std::to_string(line) + ": ";
        EXPECT_EQ(outcome.err.rfind(prefix, 0), 0U) << "stderr: " << outcome.err << "expected prefix: " << prefix;
        EXPECT_NE(outcome.err.find(needle), std::string::npos) << "stderr: " << outcome.err;
        EXPECT_EQ(std::count(outcome.err.begin(), outcome.err.end(), '\n'), 1) << "stderr: " << outcome.err;
    }
};

// ---- the command line -------------------------------------------------------------------------------

TEST_F(ServerSettingsTest, Defaults)
{
    const ServerSettings s = parse_ok({});
    EXPECT_EQ(s.listen.to_string(), "127.0.0.1:7443");
    EXPECT_EQ(s.root, "./minisync-data");
    EXPECT_EQ(s.tls.cert, "./server.crt");
    EXPECT_EQ(s.tls.key, "./server.key");
    EXPECT_EQ(s.tls.ca, "./ca.crt");
    EXPECT_TRUE(s.allow_cn.empty());
    EXPECT_EQ(s.metrics, std::nullopt);
    EXPECT_EQ(s.workers, 4U);
    // Sized from the open-file limit at start (FdBudgetTest).
    EXPECT_EQ(s.max_connections, std::nullopt);
    EXPECT_EQ(s.max_connections_per_client, 16U);
    EXPECT_EQ(s.max_handshakes, std::nullopt);
    EXPECT_EQ(s.max_handshakes_per_address, 8U);
    EXPECT_EQ(s.max_open_uploads, std::nullopt);
    EXPECT_EQ(s.max_open_uploads_per_client, std::nullopt);
    EXPECT_EQ(s.partial_max_age, 7 * 24h);
    EXPECT_EQ(s.handshake_timeout, 10s);
    EXPECT_EQ(s.idle_timeout, 120s);
    EXPECT_EQ(s.max_file_size, std::nullopt);
    EXPECT_EQ(s.log_level, spdlog::level::info);
}

TEST_F(ServerSettingsTest, EveryFlag)
{
    const ServerSettings s =
        parse_ok({"--listen", "[::]:0", "--root", "data", "--cert", "s.crt", "--key", "s.key", "--ca", "c.crt",
                  "--allow-cn", "laptop", "--allow-cn", "desktop", "--metrics", "127.0.0.1:9102", "--workers", "12",
                  "--max-connections", "100", "--max-connections-per-client", "3", "--max-handshakes", "50",
                  "--max-handshakes-per-address", "4", "--max-open-uploads", "500",
                  "--max-open-uploads-per-client", "20", "--partial-max-age", "12h",
                  "--handshake-timeout", "5s", "--idle-timeout", "3m", "--max-file-size", "10G",
                  "--log-level", "warn"});
    EXPECT_EQ(s.listen.host, "::");
    EXPECT_EQ(s.listen.port, 0);
    EXPECT_EQ(s.root, "data");
    EXPECT_EQ(s.tls.cert, "s.crt");
    EXPECT_EQ(s.tls.key, "s.key");
    EXPECT_EQ(s.tls.ca, "c.crt");
    EXPECT_EQ(s.allow_cn, (std::vector<std::string>{"laptop", "desktop"}));
    ASSERT_TRUE(s.metrics.has_value());
    EXPECT_EQ(s.metrics->port, 9102);
    EXPECT_EQ(s.workers, 12U);
    EXPECT_EQ(s.max_connections, 100U);
    EXPECT_EQ(s.max_connections_per_client, 3U);
    EXPECT_EQ(s.max_handshakes, 50U);
    EXPECT_EQ(s.max_handshakes_per_address, 4U);
    EXPECT_EQ(s.max_open_uploads, 500U);
    EXPECT_EQ(s.max_open_uploads_per_client, 20U);
    EXPECT_EQ(s.partial_max_age, 12h);
    EXPECT_EQ(s.handshake_timeout, 5s);
    EXPECT_EQ(s.idle_timeout, 180s);
    EXPECT_EQ(s.max_file_size, std::optional<std::uint64_t>{10ULL << 30});
    EXPECT_EQ(s.log_level, spdlog::level::warn);
}

TEST_F(ServerSettingsTest, ConnectionLimitsMustBePositive)
{
    expect_usage_error({"--max-connections", "0"}, "--max-connections: expected an integer from 1");
    expect_usage_error({"--max-connections-per-client", "-1"}, "--max-connections-per-client: expected an integer");
    expect_usage_error({"--max-handshakes", "0"}, "--max-handshakes: expected an integer from 1");
    expect_usage_error({"--max-handshakes-per-address", "0"}, "--max-handshakes-per-address: expected an integer");
    expect_usage_error({"--max-open-uploads", "0"}, "--max-open-uploads: expected an integer from 1");
    expect_usage_error({"--max-open-uploads-per-client", "0"},
                       "--max-open-uploads-per-client: expected an integer from 1");
}

TEST_F(ServerSettingsTest, BadFlags)
{
    expect_usage_error({"--listen", "7443"}, "--listen: expected ADDR:PORT");
    expect_usage_error({"--metrics", "x"}, "--metrics: expected ADDR:PORT");
    expect_usage_error({"--allow-cn", ".hidden"}, "--allow-cn: expected a client name");
    expect_usage_error({"--allow-cn", "a/b"}, "--allow-cn: expected a client name");
    expect_usage_error({"--workers", "0"}, "--workers: expected an integer from 1 to 256");
    expect_usage_error({"--workers", "many"}, "--workers");
    expect_usage_error({"--partial-max-age", "30m"}, "--partial-max-age: expected a duration of at least 1h");
    expect_usage_error({"--partial-max-age", "soon"}, "--partial-max-age");
    expect_usage_error({"--handshake-timeout", "0"}, "--handshake-timeout: expected a duration from 1s to 7d");
    expect_usage_error({"--idle-timeout", "1s"}, "--idle-timeout: expected a duration from 2s to 7d");
    // libevent would add a longer one to the clock and overflow, and the timer would fire at once.
    expect_usage_error({"--idle-timeout", "8d"}, "--idle-timeout: expected a duration from 2s to 7d");
    expect_usage_error({"--handshake-timeout", "106751991167300d"}, "--handshake-timeout");
    expect_usage_error({"--max-file-size", "0"}, "--max-file-size");
    expect_usage_error({"--max-file-size", "huge"}, "--max-file-size");
    expect_usage_error({"--log-level", "loud"}, "--log-level: expected one of");
    expect_usage_error({"--root", ""}, "--root must not be empty");
    expect_usage_error({"--bogus"}, "--bogus");
}

// ---- the config file --------------------------------------------------------------------------------

TEST_F(ServerSettingsTest, EveryKeyFromTheFile)
{
    const std::string config = write_config("etc/minisync-server.toml", R"(
listen = "0.0.0.0:8443"
root = "/srv/minisync"
cert = "/pki/s.crt"
key = "/pki/s.key"
ca = "/pki/ca.crt"
allow_cn = ["laptop", "desktop"]
metrics = "127.0.0.1:9102"
workers = 16
max_handshakes = 64
max_handshakes_per_address = 2
max_open_uploads = 3000
max_open_uploads_per_client = 64
partial_max_age = "2d"
handshake_timeout = 30
idle_timeout = "5m"
max_file_size = "512M"
log_level = "debug"
)");
    const ServerSettings s = parse_ok({"--config", config});
    EXPECT_EQ(s.listen.to_string(), "0.0.0.0:8443");
    EXPECT_EQ(s.root, "/srv/minisync");
    EXPECT_EQ(s.tls.cert, "/pki/s.crt");
    EXPECT_EQ(s.tls.key, "/pki/s.key");
    EXPECT_EQ(s.tls.ca, "/pki/ca.crt");
    EXPECT_EQ(s.allow_cn, (std::vector<std::string>{"laptop", "desktop"}));
    ASSERT_TRUE(s.metrics.has_value());
    EXPECT_EQ(s.metrics->to_string(), "127.0.0.1:9102");
    EXPECT_EQ(s.workers, 16U);
    EXPECT_EQ(s.max_handshakes, 64U);
    EXPECT_EQ(s.max_handshakes_per_address, 2U);
    EXPECT_EQ(s.max_open_uploads, 3000U);
    EXPECT_EQ(s.max_open_uploads_per_client, 64U);
    EXPECT_EQ(s.partial_max_age, 48h);
    EXPECT_EQ(s.handshake_timeout, 30s);
    EXPECT_EQ(s.idle_timeout, 5min);
    EXPECT_EQ(s.max_file_size, std::optional<std::uint64_t>{512ULL << 20});
    EXPECT_EQ(s.log_level, spdlog::level::debug);
}

TEST_F(ServerSettingsTest, PartialMaxAgeAsIntegerOrString)
{
    const std::pair<const char*, std::chrono::seconds> cases[] = {
        {"partial_max_age = 3600", 3600s}, {"partial_max_age = 86400", 24h}, {"partial_max_age = \"12h\"", 12h},
        {"partial_max_age = \"7d\"", 7 * 24h}, {"partial_max_age = \"90m\"", 90min}};
    for (const auto& [line, expected] : cases) {
        SCOPED_TRACE(line);
        EXPECT_EQ(parse_ok({"--config", write_config("a.toml", line)}).partial_max_age, expected);
    }
}

TEST_F(ServerSettingsTest, CommandLineOverridesTheFile)
{
    const std::string config = write_config("a.toml", R"(
listen = "0.0.0.0:8443"
root = "/srv/file"
allow_cn = ["file-cn"]
workers = 2
partial_max_age = 7200
log_level = "error"
)");
    const ServerSettings s = parse_ok({"--config", config, "--listen", "127.0.0.1:0", "--allow-cn", "cli-cn",
                                       "--workers", "3", "--root", "rel-root"});
    EXPECT_EQ(s.listen.to_string(), "127.0.0.1:0");
    EXPECT_EQ(s.allow_cn, (std::vector<std::string>{"cli-cn"})) << "--allow-cn replaces the file's list";
    EXPECT_EQ(s.workers, 3U);
    EXPECT_EQ(s.root, "rel-root") << "a command-line path stays relative to the working directory";
    // Flags not given leave the file's values alone.
    EXPECT_EQ(s.partial_max_age, 2h);
    EXPECT_EQ(s.log_level, spdlog::level::err);
}

TEST_F(ServerSettingsTest, RelativePathsAreRelativeToTheConfigFile)
{
    const std::string config =
        write_config("etc/minisync/minisync-server.toml",
                     "root = \"../../data\"\ncert = \"pki/server.crt\"\nkey = \"pki/server.key\"\nca = \"ca.crt\"\n");
    const std::filesystem::path dir = sandbox() / "etc" / "minisync";
    const ServerSettings s = parse_ok({"--config", config});
    EXPECT_EQ(s.root, (sandbox() / "data").string());
    EXPECT_EQ(s.tls.cert, (dir / "pki/server.crt").string());
    EXPECT_EQ(s.tls.key, (dir / "pki/server.key").string());
    EXPECT_EQ(s.tls.ca, (dir / "ca.crt").string());
}

TEST_F(ServerSettingsTest, MissingConfigFileIsNamed)
{
    const std::string missing = (sandbox() / "nope.toml").string();
    const ParseOutcome outcome = parse({"--config", missing});
    ASSERT_TRUE(std::holds_alternative<int>(outcome.result));
    EXPECT_EQ(std::get<int>(outcome.result), 2);
    EXPECT_EQ(outcome.err, "minisync-server: couldn't open '" + missing + "': No such file or directory (2)\n");
}

TEST_F(ServerSettingsTest, UnparsableFileGivesLineAndColumn)
{
    const std::string config = write_config("bad.toml", "[server\nworkers = 2\n");
    const ParseOutcome outcome = parse({"--config", config});
    ASSERT_TRUE(std::holds_alternative<int>(outcome.result));
    EXPECT_EQ(std::get<int>(outcome.result), 2);
    EXPECT_TRUE(std::regex_search(outcome.err, std::regex{"^minisync-server: " + config + ":1:[0-9]+: .+\n$"}))
        << outcome.err;
}

TEST_F(ServerSettingsTest, UnknownKeysNameTheKeyAndLine)
{
    expect_config_error("workers = 2\n\nallow_cns = [\"a\"]\n", 3,
                        "unknown key 'allow_cns' (did you mean 'allow_cn'?)");
    expect_config_error("partial-max-age = \"7d\"\n", 1,
                        "unknown key 'partial-max-age' (did you mean 'partial_max_age'?)");
    expect_config_error("[[folder]]\npath = \"/x\"\n", 1, "unknown key 'folder'");
}

TEST_F(ServerSettingsTest, BadValuesNameTheKeyAndLine)
{
    expect_config_error("workers = \"4\"\n", 1, "key 'workers': expected an integer from 1 to 256, got '4'");
    expect_config_error("workers = -4\n", 1, "key 'workers': expected an integer from 1 to 256, got -4");
    expect_config_error("\n\nworkers = 1000\n", 3, "key 'workers': expected an integer from 1 to 256, got 1000");
    expect_config_error("listen = \"localhost\"\n", 1, "key 'listen': expected ADDR:PORT");
    expect_config_error("listen = 7443\n", 1, "key 'listen': expected ADDR:PORT");
    expect_config_error("metrics = \"1.2.3.4:99999\"\n", 1, "key 'metrics': expected ADDR:PORT");
    expect_config_error("log_level = \"warning\"\n", 1,
                        "key 'log_level': expected one of trace, debug, info, warn, error");
    expect_config_error("partial_max_age = 60\n", 1, "key 'partial_max_age': expected a duration of at least 1h");
    expect_config_error("partial_max_age = \"30m\"\n", 1, "key 'partial_max_age': expected a duration of at least 1h");
    expect_config_error("partial_max_age = -1\n", 1, "key 'partial_max_age': expected a duration");
    expect_config_error("root = \"\"\n", 1, "key 'root': expected a non-empty path");
    expect_config_error("allow_cn = \"laptop\"\n", 1, "key 'allow_cn': expected an array");
    expect_config_error("allow_cn = [\n  \"laptop\",\n  \".hidden\",\n]\n", 3,
                        "key 'allow_cn', element 2: expected a client name: one path component of 1-255 bytes, not "
                        "starting with '.', got '.hidden'");
}

TEST_F(ServerSettingsTest, ReloadReadsTheFileAgain)
{
    const std::string config = write_config("a.toml", "workers = 2\n");
    const std::vector<std::string> argv{"minisync-server", "--config", config};
    auto first = reload_server_settings(argv);
    ASSERT_TRUE(first.ok()) << first.error().message;
    EXPECT_EQ(first.value().workers, 2U);

    write_config("a.toml", "workers = 7\n");
    auto second = reload_server_settings(argv);
    ASSERT_TRUE(second.ok()) << second.error().message;
    EXPECT_EQ(second.value().workers, 7U);

    write_config("a.toml", "workers = 0\n");
    ::testing::internal::CaptureStderr();
    auto third = reload_server_settings(argv);
    EXPECT_EQ(::testing::internal::GetCapturedStderr(), "");
    ASSERT_FALSE(third.ok());
    EXPECT_EQ(third.error().code, ErrorCode::Config);
    EXPECT_EQ(third.error().message,
              "minisync-server: " + config + ":1: key 'workers': expected an integer from 1 to 256, got 0");
}

// ---- the shipped example ----------------------------------------------------------------------------

const std::string ExampleConfig = std::string{MINISYNC_SOURCE_DIR} + "/etc/minisync-server.toml";

TEST_F(ServerSettingsTest, ShippedExampleLoads)
{
    const ServerSettings s = parse_ok({"--config", ExampleConfig});
    const std::filesystem::path dir = std::filesystem::path{MINISYNC_SOURCE_DIR} / "etc";
    EXPECT_EQ(s.tls.cert, (dir / "pki/server.crt").string());
    EXPECT_EQ(s.tls.key, (dir / "pki/server.key").string());
    EXPECT_EQ(s.tls.ca, (dir / "pki/ca.crt").string());
    EXPECT_TRUE(std::filesystem::path{s.root}.is_absolute()) << s.root;
    EXPECT_EQ(s.listen.to_string(), "127.0.0.1:7443");
}

TEST_F(ServerSettingsTest, ShippedExampleDocumentsOnlyRealKeys)
{
    // Uncomment every "#key = value" line: the keys must all be known and their example values valid.
    std::ifstream in{ExampleConfig};
    ASSERT_TRUE(in) << ExampleConfig;
    std::string uncommented;
    std::size_t settings = 0;
    const std::regex commented_setting{R"(^#([a-z_]+ = .*)$)"};
    for (std::string line; std::getline(in, line);) {
        std::smatch match;
        if (std::regex_match(line, match, commented_setting)) {
            line = match[1];
            ++settings;
        }
        uncommented += line + "\n";
    }
    EXPECT_GE(settings, 6U) << "every optional key is shown";
    const ParseOutcome outcome = parse({"--config", write_config("etc/uncommented.toml", uncommented)});
    EXPECT_TRUE(std::holds_alternative<ServerSettings>(outcome.result)) << outcome.err;
}

} // namespace
} // namespace minisync::server
