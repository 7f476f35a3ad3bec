// minisyncd's settings from its config file (toml++, through config_file.h) and its command line (CLI11);
// every value and folder is validated before anything starts, and a reload runs the same parse again.
#include "agent_settings.h"

#include "config_file.h"
#include "path_rules.h"
#include "settings_outcome.h"
#include "settings_parser.h"

#include <CLI/CLI.hpp>

#include <grp.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <map>

namespace minisync::agent {

std::string default_server_name(const HostPort& server)
{
    return server.host_is_ip_literal() ? "mini-rsync-server" : server.host;
}

std::string default_state_path()
{
    if (const char* state_directory = std::getenv("STATE_DIRECTORY"); state_directory != nullptr && *state_directory) {
        // systemd may list several directories separated by ':'; the first is ours.
        const std::string first{state_directory, std::strcspn(state_directory, ":")};
        return first + "/state.db";
    }
    if (const char* xdg = std::getenv("XDG_STATE_HOME"); xdg != nullptr && *xdg == '/') {
        return std::string{xdg} + "/minisync/state.db";
    }
    const char* home = std::getenv("HOME");
    return std::string{home != nullptr ? home : "."} + "/.local/state/minisync/state.db";
}

std::pair<std::string, std::string> split_folder_argument(const std::string& argument)
{
    const std::size_t eq = argument.rfind('=');
    std::string path = eq == std::string::npos ? argument : argument.substr(0, eq);
    std::string name;
    if (eq != std::string::npos) {
        name = argument.substr(eq + 1);
    } else {
        name = std::filesystem::path{path}.lexically_normal().filename().string();
        if (name.empty()) { // "dir/" normalises to a trailing empty name
            name = std::filesystem::path{path}.lexically_normal().parent_path().filename().string();
        }
    }
    return {path, name};
}

namespace {

constexpr std::string_view Program = "minisyncd";
constexpr std::int64_t MaxWorkers = 256;
// Paths and folder names are shown whole in messages; only something absurd is cut.
constexpr std::size_t MaxShownPath = 4096;

using Outcome = ParseOutcome<AgentSettings>;

// The command line as given. A value counts only when its flag was given (CLI::App::count()), so a
// flag left out never hides the config file's value.
struct CommandLine {
    std::string server;
    std::string server_name;
    std::string cert;
    std::string key;
    std::string ca;
    std::string state;
    std::string control;
    std::string control_group;
    std::string metrics;
    std::string workers;
    std::string bwlimit;
    std::string log_level;
    std::vector<std::string> excludes;
    std::vector<std::string> folders;
};

bool group_exists(std::string_view name) noexcept
{
    const std::string group_name{name};
    std::vector<char> buffer(16 * 1024);
    for (;;) {
        group entry{};
        group* found = nullptr;
        const int rc = ::getgrnam_r(group_name.c_str(), &entry, buffer.data(), buffer.size(), &found);
        if (rc == ERANGE && buffer.size() < 1024 * 1024) {
            buffer.resize(buffer.size() * 2);
            continue;
        }
        return rc == 0 && found != nullptr;
    }
}

ValueKind<std::uint64_t> bwlimit_value()
{
    ValueKind<std::uint64_t> kind = byte_size_value(1);
    kind.expected = "a rate in bytes per second: a positive integer, or a string such as '500K' or '10M' "
                    "(K, M, G are powers of 1024)";
    return kind;
}

const ValueKind<std::string>& folder_name_value()
{
    static const ValueKind<std::string> kind = checked_text_value(
        "a folder name: one path component of 1-255 bytes, not '.' or '..'", &is_valid_folder_name);
    return kind;
}

// A path or folder name in a message, quoted. Either may hold a newline, which shown as it is would split
// the message and start a line that reads like another problem.
std::string quote_whole(std::string_view text)
{
    return detail::quote_for_message(text, MaxShownPath);
}

// Folders are named once each, wherever they come from.
class FolderNames {
public:
    // Where name was first used ("FILE:LINE" or "the command line"), or nothing when it is new.
    std::optional<std::string> claim(const std::string& name, std::string where)
    {
        const auto [it, inserted] = where_.try_emplace(name, std::move(where));
        if (inserted) {
            return std::nullopt;
        }
        return it->second;
    }

private:
    std::map<std::string, std::string> where_;
};

// A folder's path made absolute, with the symlinks of what exists of it resolved. A path that does not
// exist (yet) is fine: the folder is reported missing and synced once it is there (docs/CONFIG.md). One
// that names something else than a directory, or cannot be looked at, is refused with problem set.
std::optional<std::filesystem::path> folder_path(const std::string& given, std::string& problem)
{
    std::error_code ec;
    const std::filesystem::path absolute = std::filesystem::canonical(given, ec);
    if (!ec) {
        if (std::filesystem::is_directory(absolute, ec)) {
            return absolute;
        }
        problem = quote_whole(given) + " is not a directory";
        return std::nullopt;
    }
    if (ec != std::errc::no_such_file_or_directory) {
        problem = quote_whole(given) + " cannot be looked at: " + ec.message();
        return std::nullopt;
    }
    std::filesystem::path missing = std::filesystem::weakly_canonical(std::filesystem::absolute(given, ec), ec);
    if (ec) {
        problem = quote_whole(given) + " cannot be looked at: " + ec.message();
        return std::nullopt;
    }
    if (!missing.has_filename()) {
        missing = missing.parent_path(); // "dir/" names dir
    }
    return missing;
}

// One [[folder]] table: path (required, relative to the file's directory), name, exclude, one_file_system.
void read_folder_table(TableReader& table, FolderNames& names, std::vector<FolderSpec>& folders)
{
    const std::optional<std::string> path = table.get_path("path");
    const std::optional<std::string> name = table.get("name", folder_name_value());
    std::optional<std::vector<std::string>> excludes = table.get_array("exclude", text_value("a non-empty pattern"));
    const std::optional<bool> one_file_system = table.get("one_file_system", boolean_value());
    table.report_unknown_keys();
    if (!table.has("path")) {
        table.missing("path");
        return;
    }
    if (!path || (table.has("name") && !name) || (table.has("exclude") && !excludes) ||
        (table.has("one_file_system") && !one_file_system)) {
        return; // already reported
    }
    std::string problem;
    const std::optional<std::filesystem::path> resolved = folder_path(*path, problem);
    if (!resolved) {
        table.error("path", problem);
        return;
    }
    const std::filesystem::path& absolute = *resolved;
    std::string folder_name;
    const char* name_key = "name";
    if (name) {
        folder_name = *name;
    } else {
        folder_name = absolute.filename().string();
        name_key = "path";
        if (!is_valid_folder_name(folder_name)) {
            table.error("path", quote_whole(absolute.string()) + " has no name to use on the server; set 'name'");
            return;
        }
    }
    const std::string here = table.file().path() + ":" + std::to_string(table.line(name_key));
    if (const auto first = names.claim(folder_name, here)) {
        table.error(name_key, "folder name " + quote_whole(folder_name) + " is used twice (first at " + *first + ")");
        return;
    }
    folders.push_back(FolderSpec{absolute.string(), folder_name, excludes.value_or(std::vector<std::string>{}),
                                 one_file_system.value_or(true)});
}

// FOLDER[=NAME] from the command line; a relative FOLDER is relative to the working directory.
void read_folder_argument(const std::string& argument, FolderNames& names, std::vector<FolderSpec>& folders,
                          ConfigErrors& errors)
{
    auto [path, name] = split_folder_argument(argument);
    std::string problem;
    const std::optional<std::filesystem::path> resolved = folder_path(path, problem);
    if (!resolved) {
        errors.add("folder " + problem);
        return;
    }
    const std::filesystem::path& absolute = *resolved;
    // `minisyncd .` means the current directory by its real name.
    if (argument.rfind('=') == std::string::npos && absolute.has_filename()) {
        name = absolute.filename().string();
    }
    if (!is_valid_folder_name(name)) {
        errors.add("invalid folder name " + quote_whole(name) + " for " + quote_whole(argument) +
                   ": one path component of 1-255 bytes, not '.' or '..'");
        return;
    }
    if (const auto first = names.claim(name, "the command line")) {
        errors.add("folder name " + quote_whole(name) + " is used twice" +
                   (*first == "the command line" ? std::string{} : " (also at " + *first + ")"));
        return;
    }
    folders.push_back(FolderSpec{absolute.string(), name, {}, true});
}

Outcome parse(int argc, const char* const* argv)
{
    AgentSettings settings;
    CommandLine cli;
    cli.server = settings.server.to_string();
    cli.workers = std::to_string(settings.workers);
    cli.log_level = "info";

    SettingsParser parser{Program, "minisyncd: watches folders and pushes every change to a minisync-server",
                          "--server-name"};
    CLI::App& app = parser.app();
    app.add_option("--server", cli.server, "HOST:PORT of the minisync-server")
        ->type_name("HOST:PORT")
        ->capture_default_str();
    app.add_option("--server-name", cli.server_name,
                   "name the server certificate must carry (default: host of --server, or mini-rsync-server for an IP)")
        ->type_name("NAME");
    app.add_option("--cert", cli.cert, "client certificate (PEM) [./client.crt]")->type_name("FILE");
    app.add_option("--key", cli.key, "client private key (PEM) [./client.key]")->type_name("FILE");
    app.add_option("--ca", cli.ca, "CA that signs the server certificate (PEM) [./ca.crt]")->type_name("FILE");
    app.add_option("--state", cli.state, "state database file")->type_name("FILE");
    app.add_option("--control", cli.control, "control socket path")->type_name("SOCKET");
    app.add_option("--control-group", cli.control_group, "members of this group may use the control socket too")
        ->type_name("GROUP");
    app.add_option("--metrics", cli.metrics, "ADDR:PORT for Prometheus metrics (off by default)")
        ->type_name("ADDR:PORT");
    app.add_option("--workers", cli.workers, "threads reading and hashing files, 1 to 256")
        ->type_name("N")
        ->capture_default_str();
    app.add_option("--bwlimit", cli.bwlimit, "upload rate cap in bytes per second, K/M/G suffixes (e.g. 500K)")
        ->type_name("RATE");
    // One value per occurrence, so "--exclude X FOLDER" leaves FOLDER to the positionals.
    app.add_option("--exclude", cli.excludes,
                   "skip paths matching this pattern (repeatable; replaces the config file's exclude)")
        ->type_name("GLOB")
        ->allow_extra_args(false);
    app.add_option("--log-level", cli.log_level, "trace|debug|info|warn|error")
        ->type_name("LEVEL")
        ->capture_default_str();
    app.add_option("folders", cli.folders, "FOLDER[=NAME] to watch and sync, on top of the config file's")
        ->type_name("FOLDER[=NAME]");
    if (auto failure = parser.read(argc, argv)) {
        return std::move(*failure);
    }
    TableReader* const top = parser.file();
    const SettingSources& from = parser.from();
    ConfigErrors& errors = parser.errors();

    if (auto server = from.value("--server", cli.server, host_port_value(false))) {
        settings.server = *server;
    }
    if (top) {
        if (auto name = top->get("server_name", text_value("a non-empty name"))) {
            settings.server_name = *name;
        }
    }
    if (from.given("--server-name")) {
        settings.server_name = cli.server_name; // empty asks for the default
    }
    if (auto cert = from.path("--cert", cli.cert)) {
        settings.tls.cert = *cert;
    }
    if (auto key = from.path("--key", cli.key)) {
        settings.tls.key = *key;
    }
    if (auto ca = from.path("--ca", cli.ca)) {
        settings.tls.ca = *ca;
    }
    if (auto state = from.path("--state", cli.state)) {
        settings.state_path = *state;
    }
    if (auto control = from.path("--control", cli.control)) {
        settings.control_socket = *control;
    }
    if (auto group = from.value("--control-group", cli.control_group,
                                checked_text_value("the name of an existing group", &group_exists))) {
        settings.control_group = *group;
    }
    if (auto metrics = from.value("--metrics", cli.metrics, host_port_value(true))) {
        settings.metrics = *metrics;
    }
    if (auto workers = from.value("--workers", cli.workers, integer_value(1, MaxWorkers))) {
        settings.workers = static_cast<std::size_t>(*workers);
    }
    if (auto bwlimit = from.value("--bwlimit", cli.bwlimit, bwlimit_value())) {
        settings.bwlimit = *bwlimit;
    }
    if (top) {
        if (auto excludes = top->get_array("exclude", text_value("a non-empty pattern"))) {
            settings.excludes = std::move(*excludes);
        }
    }
    if (from.given("--exclude")) {
        settings.excludes = cli.excludes;
    }
    if (auto level = from.value("--log-level", cli.log_level, log_level_value())) {
        settings.log_level = *level;
    }

    FolderNames names;
    bool any_folder = !cli.folders.empty();
    if (top) {
        std::vector<TableReader> tables = top->get_tables("folder");
        any_folder = any_folder || !tables.empty() || top->has("folder");
        for (TableReader& table : tables) {
            read_folder_table(table, names, settings.folders);
        }
        top->report_unknown_keys();
    }
    for (const std::string& argument : cli.folders) {
        read_folder_argument(argument, names, settings.folders, errors);
    }
    if (!any_folder) {
        const ConfigFile* const config = parser.config();
        errors.add(config ? "no folder to sync: add a [[folder]] table to " + config->path() +
                                " or give FOLDER[=NAME] arguments"
                          : std::string{"no folder to sync; usage: minisyncd [options] FOLDER[=NAME]..."});
    }
    if (auto failure = parser.failure()) {
        return std::move(*failure);
    }

    if (settings.server_name.empty()) {
        settings.server_name = default_server_name(settings.server);
    }
    if (settings.state_path.empty()) {
        settings.state_path = default_state_path();
    }
    return settings;
}

} // namespace

ParsedAgentArgs parse_agent_args(int argc, const char* const* argv)
{
    return settings_for_start(parse(argc, argv));
}

Result<AgentSettings> reload_agent_settings(const std::vector<std::string>& argv)
{
    return settings_for_reload<AgentSettings>(Program, argv, parse);
}

} // namespace minisync::agent
