// Tests for the shared config file helpers: reading and parse errors with line and column, each typed
// getter's accepted and refused values, unknown keys, [[tables]], relative paths and error ordering.
#include "config_file.h"

#include "sandbox.h"

#include <gtest/gtest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <limits>
#include <string>
#include <variant>
#include <vector>

namespace minisync {
namespace {

using namespace std::chrono_literals;

ConfigFile parse_ok(std::string_view text, const std::string& path = "/etc/minisync/test.toml")
{
    auto parsed = ConfigFile::parse(text, path);
    if (!parsed.ok()) {
        ADD_FAILURE() << "parse failed: " << parsed.error().message;
        return ConfigFile::parse("", path).value();
    }
    return std::move(parsed).value();
}

std::string parse_error(std::string_view text, const std::string& path = "/etc/minisync/test.toml")
{
    auto parsed = ConfigFile::parse(text, path);
    if (!parsed.ok()) {
        EXPECT_EQ(parsed.error().code, ErrorCode::Config);
        return parsed.error().message;
    }
    ADD_FAILURE() << "parsed; expected an error";
    return {};
}

// A value read by read_one(), or the errors it caused.
template <class T>
struct ReadResult {
    std::optional<T> value;
    std::string error; // as the daemon would print it, with "prog: "

    [[nodiscard]] T ok() const
    {
        EXPECT_TRUE(value.has_value()) << error;
        return value.value_or(T{});
    }
};

// Reads one key of a small document with kind.
template <class T>
ReadResult<T> read_one(std::string_view text, std::string_view key, const ValueKind<T>& kind)
{
    const ConfigFile file = parse_ok(text, "t.toml");
    ConfigErrors errors;
    TableReader reader{file, file.root(), errors};
    ReadResult<T> result{reader.get(key, kind), {}};
    reader.report_unknown_keys();
    if (!errors.empty()) {
        EXPECT_FALSE(result.value.has_value());
        result.error = errors.format("prog");
    }
    return result;
}

// ---- config_key -------------------------------------------------------------------------------------

TEST(ConfigKeyTest, FlagNameWithUnderscores)
{
    EXPECT_EQ(config_key("--server-name"), "server_name");
    EXPECT_EQ(config_key("--partial-max-age"), "partial_max_age");
    EXPECT_EQ(config_key("--allow-cn"), "allow_cn");
    EXPECT_EQ(config_key("--workers"), "workers");
}

// ---- ConfigFile -------------------------------------------------------------------------------------

TEST(ConfigFileTest, SyntaxErrorNamesFileLineAndColumn)
{
    EXPECT_EQ(parse_error("a = 1\nb = \n", "/etc/x.toml").rfind("/etc/x.toml:2:", 0), 0U);
    EXPECT_EQ(parse_error("workers = 4\nworkers = 5\n", "x.toml").rfind("x.toml:2:", 0), 0U);
    EXPECT_EQ(parse_error("[[folder]\npath = 1\n", "x.toml").rfind("x.toml:1:", 0), 0U);
    EXPECT_EQ(parse_error("s = \"\xff\"\n", "x.toml").rfind("x.toml:1:", 0), 0U);
    const std::string error = parse_error("\n\nkey = 'unterminated\n", "x.toml");
    EXPECT_EQ(error.rfind("x.toml:3:", 0), 0U) << error;
    EXPECT_GT(error.size(), std::string{"x.toml:3:1: "}.size()) << "says what is wrong";
}

// Found by tests/fuzz/fuzz_config_loader: toml++ quotes the character it saw, a newline included, which
// split the message and started a line that did not name the program.
TEST(ConfigFileTest, SyntaxErrorStaysOnOneLine)
{
    for (const char* text : {"a = t\nb = 1\n", "a = \"x\x01\"\n", "a = 1\x7f\n"}) {
        const std::string error = parse_error(text, "x.toml");
        EXPECT_EQ(error.rfind("x.toml:1:", 0), 0U) << error;
        EXPECT_EQ(std::count_if(error.begin(), error.end(), [](char c) { return c < 0x20 || c == 0x7f; }), 0)
            << error;
    }
}

TEST(ConfigFileTest, RelativePathsResolveAgainstTheFilesDirectory)
{
    const ConfigFile file = parse_ok("", "/etc/minisync/minisyncd.toml");
    EXPECT_EQ(file.resolve_path("pki/client.crt"), "/etc/minisync/pki/client.crt");
    EXPECT_EQ(file.resolve_path("./a/../b"), "/etc/minisync/b");
    EXPECT_EQ(file.resolve_path("../x"), "/etc/x");
    EXPECT_EQ(file.resolve_path("/abs/path"), "/abs/path");
}

TEST(ConfigFileTest, RelativeConfigPathIsTakenFromTheWorkingDirectory)
{
    const ConfigFile file = parse_ok("", "conf/agent.toml");
    const std::filesystem::path expected = std::filesystem::current_path() / "conf" / "state.db";
    EXPECT_EQ(file.resolve_path("state.db"), expected.lexically_normal().string());
    EXPECT_EQ(file.path(), "conf/agent.toml") << "messages show the path as given";
}

using ConfigFileLoadTest = test::SandboxedTest;

TEST_F(ConfigFileLoadTest, LoadsAFile)
{
    const std::string path = (sandbox() / "c.toml").string();
    std::ofstream{path} << "workers = 3\n";
    auto loaded = ConfigFile::load(path);
    ASSERT_TRUE(loaded.ok()) << loaded.error().message;
    EXPECT_EQ(loaded.value().root()["workers"].value<std::int64_t>(), 3);
}

TEST_F(ConfigFileLoadTest, MissingFileIsNamed)
{
    const std::string path = (sandbox() / "missing.toml").string();
    auto loaded = ConfigFile::load(path);
    ASSERT_FALSE(loaded.ok());
    EXPECT_EQ(loaded.error().message, "couldn't open '" + path + "': No such file or directory (2)");
    EXPECT_EQ(loaded.error().errno_value, ENOENT);
}

TEST_F(ConfigFileLoadTest, DirectoryIsRefused)
{
    auto loaded = ConfigFile::load(sandbox().string());
    ASSERT_FALSE(loaded.ok());
    EXPECT_NE(loaded.error().message.find("Is a directory"), std::string::npos) << loaded.error().message;
}

TEST_F(ConfigFileLoadTest, UnreadableFileIsNamed)
{
    if (::geteuid() == 0) {
        GTEST_SKIP() << "root reads any file";
    }
    const std::string path = (sandbox() / "secret.toml").string();
    std::ofstream{path} << "workers = 3\n";
    ASSERT_EQ(::chmod(path.c_str(), 0), 0);
    auto loaded = ConfigFile::load(path);
    ASSERT_FALSE(loaded.ok());
    EXPECT_NE(loaded.error().message.find("'" + path + "': Permission denied"), std::string::npos)
        << loaded.error().message;
}

TEST_F(ConfigFileLoadTest, HugeFileIsRefused)
{
    const std::string path = (sandbox() / "huge.toml").string();
    {
        std::ofstream out{path};
        const std::string line = "# " + std::string(1022, 'x') + "\n";
        for (std::size_t written = 0; written <= MaxConfigFileBytes; written += line.size()) {
            out << line;
        }
    }
    auto loaded = ConfigFile::load(path);
    ASSERT_FALSE(loaded.ok());
    EXPECT_NE(loaded.error().message.find("larger than"), std::string::npos) << loaded.error().message;
}

TEST_F(ConfigFileLoadTest, ParseErrorOfALoadedFileHasItsPath)
{
    const std::string path = (sandbox() / "bad.toml").string();
    std::ofstream{path} << "# fine\nworkers = = 4\n";
    auto loaded = ConfigFile::load(path);
    ASSERT_FALSE(loaded.ok());
    EXPECT_EQ(loaded.error().message.rfind(path + ":2:", 0), 0U) << loaded.error().message;
}

// ---- value kinds through TableReader::get -----------------------------------------------------------

TEST(TableReaderTest, Integer)
{
    const auto kind = integer_value(1, 256);
    EXPECT_EQ(read_one("workers = 8", "workers", kind).ok(), 8);
    EXPECT_EQ(read_one("workers = 256", "workers", kind).ok(), 256);
    EXPECT_EQ(read_one("workers = 0", "workers", kind).error,
              "prog: t.toml:1: key 'workers': expected an integer from 1 to 256, got 0");
    EXPECT_EQ(read_one("\nworkers = -3", "workers", kind).error,
              "prog: t.toml:2: key 'workers': expected an integer from 1 to 256, got -3");
    EXPECT_EQ(read_one("workers = \"8\"", "workers", kind).error,
              "prog: t.toml:1: key 'workers': expected an integer from 1 to 256, got '8'");
    EXPECT_NE(read_one("workers = 8.0", "workers", kind).error.find("got the number 8"),
              std::string::npos);
    EXPECT_NE(read_one("workers = true", "workers", kind).error.find("got true"), std::string::npos);
    EXPECT_NE(read_one("workers = [1]", "workers", kind).error.find("got an array"),
              std::string::npos);
    EXPECT_NE(read_one("[workers]\nx = 1", "workers", kind).error.find("got a table"),
              std::string::npos);
}

TEST(TableReaderTest, ByteSizeTakesAnIntegerOrASuffixedString)
{
    const auto kind = byte_size_value(1);
    EXPECT_EQ(read_one("bwlimit = 512000", "bwlimit", kind).ok(), 512000U);
    EXPECT_EQ(read_one("bwlimit = \"500K\"", "bwlimit", kind).ok(), 500U * 1024);
    EXPECT_EQ(read_one("bwlimit = \"10M\"", "bwlimit", kind).ok(), 10U * 1024 * 1024);
    EXPECT_EQ(read_one("bwlimit = \"1G\"", "bwlimit", kind).ok(), 1024U * 1024 * 1024);
    for (const char* bad : {"bwlimit = 0", "bwlimit = -1", "bwlimit = \"0K\"", "bwlimit = \"fast\"",
                            "bwlimit = \"5 M\"", "bwlimit = 1.5", "bwlimit = \"\""}) {
        const auto result = read_one(bad, "bwlimit", kind);
        ASSERT_TRUE(!result.error.empty()) << bad;
        EXPECT_NE(result.error.find("t.toml:1: key 'bwlimit': expected"), std::string::npos)
            << result.error;
    }
}

TEST(TableReaderTest, DurationTakesSecondsOrASuffixedString)
{
    const auto kind = duration_value(1h);
    EXPECT_EQ(read_one("age = 3600", "age", kind).ok(), 3600s);
    EXPECT_EQ(read_one("age = \"7d\"", "age", kind).ok(), 7 * 24h);
    EXPECT_EQ(read_one("age = \"12h\"", "age", kind).ok(), 12h);
    EXPECT_EQ(read_one("age = \"90m\"", "age", kind).ok(), 90min);
    EXPECT_EQ(read_one("age = 59", "age", kind).error,
              "prog: t.toml:1: key 'age': expected a duration of at least 1h: seconds as an integer, or a string "
              "such as '7d' or '12h' (s, m, h, d), got 59");
    for (const char* bad : {"age = \"30m\"", "age = -5", "age = \"week\"", "age = \"7 d\""}) {
        EXPECT_NE(read_one(bad, "age", kind).error, "") << bad;
    }
}

TEST(TableReaderTest, DurationWithAnUpperBound)
{
    const auto kind = duration_value(2s, 24h);
    EXPECT_EQ(read_one("t = 86400", "t", kind).ok(), 24h);
    EXPECT_EQ(read_one("t = \"1d\"", "t", kind).ok(), 24h);
    EXPECT_EQ(read_one("t = 86401", "t", kind).error,
              "prog: t.toml:1: key 't': expected a duration from 2s to 1d: seconds as an integer, or a string "
              "such as '7d' or '12h' (s, m, h, d), got 86401");
    for (const char* bad : {"t = \"25h\"", "t = 9223372036854775807", "t = \"106751991167300d\"", "t = 1"}) {
        EXPECT_NE(read_one(bad, "t", kind).error, "") << bad;
    }
}

TEST(TableReaderTest, HostPort)
{
    const auto kind = host_port_value(false);
    const HostPort v6 = read_one("server = \"[::1]:7443\"", "server", kind).ok();
    EXPECT_EQ(v6.host, "::1");
    EXPECT_EQ(v6.port, 7443);
    for (const char* bad : {"server = \"example.com\"", "server = \"host:0\"", "server = \"host:65536\"",
                            "server = 7443", "server = \"a:b:1\""}) {
        const auto result = read_one(bad, "server", kind);
        ASSERT_TRUE(!result.error.empty()) << bad;
        EXPECT_NE(result.error.find("key 'server': expected HOST:PORT"), std::string::npos)
            << result.error;
    }
    EXPECT_EQ(read_one("listen = \"0.0.0.0:0\"", "listen", host_port_value(true)).ok().port, 0);
}

TEST(TableReaderTest, LogLevel)
{
    const auto kind = log_level_value();
    EXPECT_EQ(read_one("log_level = \"warn\"", "log_level", kind).ok(),
              spdlog::level::warn);
    EXPECT_EQ(read_one("log_level = \"verbose\"", "log_level", kind).error,
              "prog: t.toml:1: key 'log_level': expected one of trace, debug, info, warn, error, got 'verbose'");
}

TEST(TableReaderTest, TextRefusesEmptyAndShowsHostileValuesSafely)
{
    EXPECT_EQ(read_one("name = \"x\"", "name", text_value()).ok(), "x");
    EXPECT_EQ(read_one("name = \"\"", "name", text_value()).error,
              "prog: t.toml:1: key 'name': expected a non-empty string, got ''");
    const std::string shown =
        read_one("workers = \"a\\nb" + std::string(200, 'z') + "\"", "workers",
                                       integer_value(1, 2)).error;
    EXPECT_EQ(shown.find('\n'), std::string::npos) << "a control character would forge a message line";
    EXPECT_NE(shown.find("'a?bzzz"), std::string::npos) << shown;
    EXPECT_LT(shown.size(), 200U) << shown;
}

// Found by tests/fuzz/fuzz_config_loader: TOML's "\u0000" put a NUL in a path or host name, which the C
// calls taking it then cut short (server = "example.org\u0000.evil:7443" connected to example.org).
TEST(TableReaderTest, StringsHoldingANulByteAreRefused)
{
    EXPECT_EQ(read_one("server = \"example.org\\u0000.evil:7443\"", "server", host_port_value(false)).error,
              "prog: t.toml:1: key 'server': expected HOST:PORT with a port from 1 to 65535 (an IPv6 address in "
              "brackets), got 'example.org?.evil:7443', which holds a NUL byte");
    const ConfigFile file = parse_ok("cert = \"/etc/passwd\\u0000.crt\"\nlist = [\"a\", \"b\\u0000\"]\n", "t.toml");
    ConfigErrors errors;
    TableReader reader{file, file.root(), errors};
    EXPECT_EQ(reader.get_path("cert"), std::nullopt);
    EXPECT_EQ(reader.get_array("list", text_value()), std::nullopt);
    EXPECT_EQ(errors.format("p"),
              "p: t.toml:1: key 'cert': expected a non-empty path, got '/etc/passwd?.crt', which holds a NUL byte\n"
              "p: t.toml:2: key 'list', element 2: expected a non-empty string, got 'b?', which holds a NUL byte");
}

TEST(TableReaderTest, ArrayNamesTheBadElementAndItsLine)
{
    const ConfigFile file = parse_ok("list = [\n  \"a\",\n  \"\",\n  3,\n]\nword = \"x\"\n", "t.toml");
    ConfigErrors errors;
    TableReader reader{file, file.root(), errors};
    EXPECT_EQ(reader.get_array("list", text_value()), std::nullopt);
    EXPECT_EQ(reader.get_array("word", text_value()), std::nullopt);
    EXPECT_EQ(errors.format("p"), "p: t.toml:3: key 'list', element 2: expected a non-empty string, got ''\n"
                                  "p: t.toml:4: key 'list', element 3: expected a non-empty string, got 3\n"
                                  "p: t.toml:6: key 'word': expected an array, each element a non-empty string, "
                                  "got 'x'");
}

TEST(TableReaderTest, ArrayOfGoodElements)
{
    const ConfigFile file = parse_ok("list = [\"a\", \"b\"]\nempty = []\n", "t.toml");
    ConfigErrors errors;
    TableReader reader{file, file.root(), errors};
    EXPECT_EQ(reader.get_array("list", text_value()), (std::vector<std::string>{"a", "b"}));
    EXPECT_EQ(reader.get_array("empty", text_value()), std::vector<std::string>{});
    EXPECT_EQ(reader.get_array("absent", text_value()), std::nullopt);
    EXPECT_TRUE(errors.empty()) << errors.format("p");
}

TEST(TableReaderTest, PathsAreResolvedAgainstTheFile)
{
    const ConfigFile file = parse_ok("cert = \"pki/c.crt\"\nca = \"/abs/ca.crt\"\nkey = \"\"\n", "/etc/ms/a.toml");
    ConfigErrors errors;
    TableReader reader{file, file.root(), errors};
    EXPECT_EQ(reader.get_path("cert"), "/etc/ms/pki/c.crt");
    EXPECT_EQ(reader.get_path("ca"), "/abs/ca.crt");
    EXPECT_EQ(reader.get_path("key"), std::nullopt);
    EXPECT_EQ(errors.format("p"), "p: /etc/ms/a.toml:3: key 'key': expected a non-empty path, got ''");
}

TEST(TableReaderTest, UnknownKeysAreReportedWithTheirLineAndANearMiss)
{
    const ConfigFile file = parse_ok("workers = 2\n\nbwlimt = \"5M\"\nfrobnicate = 1\n[extra]\nx = 1\n"
                                     "dotted.key = 2\n",
                                     "/etc/minisync/minisyncd.toml");
    ConfigErrors errors;
    TableReader reader{file, file.root(), errors};
    EXPECT_EQ(reader.get("workers", integer_value(1, 256)), 2);
    EXPECT_EQ(reader.get("bwlimit", byte_size_value(1)), std::nullopt);
    reader.report_unknown_keys();
    EXPECT_EQ(errors.format("minisyncd"),
              "minisyncd: /etc/minisync/minisyncd.toml:3: unknown key 'bwlimt' (did you mean 'bwlimit'?)\n"
              "minisyncd: /etc/minisync/minisyncd.toml:4: unknown key 'frobnicate'\n"
              "minisyncd: /etc/minisync/minisyncd.toml:5: unknown key 'extra'");
}

TEST(TableReaderTest, ArrayOfTablesGivesOneReaderPerTable)
{
    const ConfigFile file = parse_ok("[[folder]]\npath = \"a\"\n\n[[folder]]\npaht = \"b\"\n", "/c/f.toml");
    ConfigErrors errors;
    TableReader top{file, file.root(), errors};
    std::vector<TableReader> tables = top.get_tables("folder");
    ASSERT_EQ(tables.size(), 2U);
    EXPECT_EQ(tables[0].get_path("path"), "/c/a");
    EXPECT_EQ(tables[1].get_path("path"), std::nullopt);
    tables[1].missing("path");
    for (TableReader& table : tables) {
        table.report_unknown_keys();
    }
    top.report_unknown_keys();
    EXPECT_EQ(tables[1].line("paht"), 5U);
    EXPECT_EQ(errors.format("p"), "p: /c/f.toml:4: missing key 'folder.path'\n"
                                  "p: /c/f.toml:5: unknown key 'folder.paht' (did you mean 'folder.path'?)");
}

TEST(TableReaderTest, ATableWhereAnArrayOfTablesBelongsIsAnError)
{
    for (const char* text : {"[folder]\npath = \"a\"\n", "folder = [\"a\"]\n", "folder = 1\n"}) {
        const ConfigFile file = parse_ok(text, "f.toml");
        ConfigErrors errors;
        TableReader top{file, file.root(), errors};
        EXPECT_TRUE(top.get_tables("folder").empty());
        top.report_unknown_keys();
        EXPECT_NE(errors.format("p").find("f.toml:1: key 'folder': expected tables written as [[folder]]"),
                  std::string::npos)
            << errors.format("p");
    }
}

// ---- errors and the command line --------------------------------------------------------------------

TEST(ConfigErrorsTest, FileErrorsInLineOrderThenTheRest)
{
    ConfigErrors errors;
    errors.add("--workers: bad");
    errors.add("f.toml", 9, "nine");
    errors.add("f.toml", 2, "two");
    errors.add("no folder");
    errors.add("f.toml", 9, "nine again");
    EXPECT_EQ(errors.format("d"), "d: f.toml:2: two\nd: f.toml:9: nine\nd: f.toml:9: nine again\n"
                                  "d: --workers: bad\nd: no folder");
}

TEST(ParseFlagValueTest, SameExpectationAsTheFile)
{
    ConfigErrors errors;
    EXPECT_EQ(parse_flag_value("--workers", "8", integer_value(1, 256), errors), 8);
    EXPECT_EQ(parse_flag_value("--workers", "8x", integer_value(1, 256), errors), std::nullopt);
    EXPECT_EQ(parse_flag_value("--workers", "", integer_value(1, 256), errors), std::nullopt);
    EXPECT_EQ(parse_flag_value("--bwlimit", "500K", byte_size_value(1), errors), 500U * 1024);
    EXPECT_EQ(errors.format("d"), "d: --workers: expected an integer from 1 to 256, got '8x'\n"
                                  "d: --workers: expected an integer from 1 to 256, got ''");
}

TEST(SettingSourcesTest, CommandLineOverridesTheFileOnlyWhenGiven)
{
    const ConfigFile file = parse_ok("workers = 6\nbwlimit = \"1M\"\ncert = \"c.pem\"\n", "/etc/m/x.toml");
    ConfigErrors errors;
    TableReader reader{file, file.root(), errors};
    const SettingSources sources{&reader, [](std::string_view flag) { return flag == "--workers" || flag == "--cert"; },
                                 errors};
    EXPECT_EQ(sources.value("--workers", "9", integer_value(1, 256)), 9);
    EXPECT_EQ(sources.value("--bwlimit", "ignored", byte_size_value(1)), 1024U * 1024);
    EXPECT_EQ(sources.value("--metrics", "ignored", host_port_value(true)), std::nullopt);
    EXPECT_EQ(sources.path("--cert", "rel/c.pem"), "rel/c.pem") << "command-line paths stay as given";
    reader.report_unknown_keys();
    EXPECT_TRUE(errors.empty()) << errors.format("p");

    const SettingSources no_file{nullptr, [](std::string_view) { return false; }, errors};
    EXPECT_EQ(no_file.value("--workers", "9", integer_value(1, 256)), std::nullopt);
}

} // namespace
} // namespace minisync
