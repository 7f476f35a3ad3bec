// The daemons started from TOML files: refusals that name the key and line, the command line winning over
// the file, and SIGHUP applying a new configuration (a folder added, per-folder excludes, a bad file
// refused while the running configuration stays).
#include "minisync_fixture.h"
#include "test_files.h"
#include "tree_compare.h"
#include "wait_for.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <csignal>
#include <string>

namespace minisync::test {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

class ConfigTest : public FolderTest {
protected:
    // The names of the folders the agent reports it watches.
    std::vector<std::string> watched_folders(const ChildProcess& agent)
    {
        const nlohmann::json status = status_json(agent);
        std::vector<std::string> names;
        for (const nlohmann::json& folder : status["folders"]) {
            names.push_back(folder["name"].get<std::string>());
        }
        return names;
    }

    fs::path write_config(const std::string& name, const std::string& text)
    {
        const fs::path path = sandbox() / name;
        write_file(path, text);
        return path;
    }

    // Runs a daemon that must refuse to start; its exit code and what it printed.
    std::pair<int, std::string> run_refused(const std::string& binary, const std::vector<std::string>& args,
                                            const std::string& log_name)
    {
        ChildProcess child{binary, args, sandbox() / log_name};
        const std::optional<int> code = child.wait_for_exit(10s);
        return {code.value_or(-1), child.log_text()};
    }
};

TEST_F(ConfigTest, UnknownKeysAndBadValuesAreRefusedNamingTheKeyAndLine)
{
    const fs::path agent_config = write_config("agent.toml", "workers = 4\nbwlimt = \"1M\"\n");
    const auto [agent_code, agent_output] = run_refused(MINISYNCD_BIN, {"--config", agent_config.string(), src_.string()},
                                                        "refused-agent.log");
    EXPECT_EQ(agent_code, 2) << agent_output;
    EXPECT_NE(agent_output.find(agent_config.string() + ":2"), std::string::npos) << agent_output;
    EXPECT_NE(agent_output.find("bwlimt"), std::string::npos) << agent_output;

    const fs::path server_config = write_config("server.toml", "\nworkers = \"many\"\n");
    const auto [server_code, server_output] =
        run_refused(MINISYNC_SERVER_BIN, {"--config", server_config.string()}, "refused-server.log");
    EXPECT_EQ(server_code, 2) << server_output;
    EXPECT_NE(server_output.find(server_config.string() + ":2"), std::string::npos) << server_output;
    EXPECT_NE(server_output.find("workers"), std::string::npos) << server_output;
}

TEST_F(ConfigTest, CommandLineOverridesTheFile)
{
    start_server();
    // The file names a server nobody listens on; the fixture's --server on the command line wins.
    const fs::path config = write_config("agent.toml", "server = \"127.0.0.1:1\"\nlog_level = \"warn\"\n"
                                                       "[[folder]]\npath = \"" + src_.string() + "\"\n");
    write_file(src_ / "a.txt", "a\n");
    ChildProcess& agent = start_and_sync(
        {.folders = std::vector<std::string>{}, .agent_args = {"--config", config.string()}, .probe = false});
    // --log-level debug from the fixture beat the file's warn, which would have hidden this info line: the
    // log level is what is tested, so the line itself is the contract.
    EXPECT_TRUE(agent.log_contains("path=a.txt: synced")) << agent.log_text();
}

TEST_F(ConfigTest, SighupAddsAFolderAndAppliesItsExcludesAndRefusesABadFile)
{
    start_server();
    const fs::path second = make_dir("second");
    const fs::path second_dst = server_file(DefaultCn, "second");
    const std::string one_folder = "[[folder]]\npath = \"" + src_.string() + "\"\n";
    const fs::path config = write_config("agent.toml", one_folder);
    write_file(src_ / "a.txt", "a\n");
    ChildProcess& agent = start_agent({}, {"--config", config.string()});
    ASSERT_TRUE(wait_until_synced(src_, dst_, 20s)) << agent.log_text();

    write_file(second / "b.txt", "b\n");
    write_file(second / "skip.tmp", "excluded for this folder\n");
    write_config("agent.toml", one_folder + "[[folder]]\npath = \"" + second.string() +
                                   "\"\nexclude = [\"*.tmp\"]\n");
    ASSERT_TRUE(agent.send_signal(SIGHUP));
    ASSERT_TRUE(wait_for([&] { return fs::exists(second_dst / "b.txt"); }, 20s)) << agent.log_text();
    EXPECT_EQ(watched_folders(agent), (std::vector<std::string>{"src", "second"}));
    // Watched from now on, with the folder's own exclude.
    write_file(second / "c.txt", "c\n");
    write_file(second / "also.tmp", "excluded\n");
    EXPECT_TRUE(wait_for([&] { return fs::exists(second_dst / "c.txt"); }, 20s)) << agent.log_text();
    EXPECT_FALSE(fs::exists(second_dst / "skip.tmp"));
    EXPECT_FALSE(fs::exists(second_dst / "also.tmp"));

    // A broken file is refused: the agent keeps running on what it had. docs/OPERATIONS.md promises a log
    // line for it, and no metric or status field records a refused reload: the line is the contract.
    write_config("agent.toml", "this is = not toml [\n");
    ASSERT_TRUE(agent.send_signal(SIGHUP));
    EXPECT_TRUE(wait_for_log(agent, "reload refused", 10s));
    write_file(src_ / "after.txt", "still syncing\n");
    EXPECT_TRUE(wait_for([&] { return fs::exists(dst_ / "after.txt"); }, 20s)) << agent.log_text();
    EXPECT_TRUE(agent.running());
}

TEST_F(ConfigTest, SighupRemovingAFolderStopsWatchingItAndKeepsTheServerCopy)
{
    start_server();
    const fs::path second = make_dir("second");
    const fs::path second_dst = server_file(DefaultCn, "second");
    const std::string first_folder = "[[folder]]\npath = \"" + src_.string() + "\"\n";
    const fs::path config =
        write_config("agent.toml", first_folder + "[[folder]]\npath = \"" + second.string() + "\"\n");
    write_file(second / "kept.txt", "kept\n");
    ChildProcess& agent = start_agent({}, {"--config", config.string()});
    ASSERT_TRUE(wait_for([&] { return fs::exists(second_dst / "kept.txt"); }, 20s)) << agent.log_text();

    write_config("agent.toml", first_folder);
    ASSERT_TRUE(agent.send_signal(SIGHUP));
    std::vector<std::string> watched;
    ASSERT_TRUE(wait_for([&] { return (watched = watched_folders(agent)) == std::vector<std::string>{"src"}; }, 10s))
        << "still watched: " << watched.size() << " folders";
    fs::remove(second / "kept.txt");
    write_file(second / "new.txt", "not sent\n");
    write_file(src_ / "marker.txt", "the first folder still syncs\n");
    ASSERT_TRUE(wait_for([&] { return fs::exists(dst_ / "marker.txt"); }, 20s)) << agent.log_text();
    EXPECT_TRUE(fs::exists(second_dst / "kept.txt"));
    EXPECT_FALSE(fs::exists(second_dst / "new.txt"));
}

} // namespace
} // namespace minisync::test
