// Command-line parsing for minisyncd with CLI11; folders and values are validated before anything starts.
#include "agent_settings.h"

#include "byte_size.h"
#include "logging.h"
#include "path_rules.h"

#include <CLI/CLI.hpp>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <set>

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

ParsedAgentArgs parse_agent_args(int argc, const char* const* argv)
{
    AgentSettings settings;
    CLI::App app{"minisyncd: watches folders and pushes every change to a minisync-server", "minisyncd"};
    std::string server = settings.server.to_string();
    std::string metrics;
    std::string bwlimit;
    std::string log_level = "info";
    std::vector<std::string> folder_arguments;
    app.add_option("--server", server, "HOST:PORT of the minisync-server")->capture_default_str();
    app.add_option("--server-name", settings.server_name,
                   "name the server certificate must carry (default: host of --server, or mini-rsync-server for an IP)");
    app.add_option("--cert", settings.tls.cert, "client certificate (PEM)")->capture_default_str();
    app.add_option("--key", settings.tls.key, "client private key (PEM)")->capture_default_str();
    app.add_option("--ca", settings.tls.ca, "CA that signs the server certificate (PEM)")->capture_default_str();
    app.add_option("--state", settings.state_path, "state database file");
    app.add_option("--control", settings.control_socket, "control socket path");
    app.add_option("--metrics", metrics, "ADDR:PORT for Prometheus metrics (off by default)");
    app.add_option("--workers", settings.workers, "threads reading and hashing files")
        ->check(CLI::Range(1, 256))
        ->capture_default_str();
    app.add_option("--bwlimit", bwlimit, "upload rate cap in bytes per second, K/M/G suffixes (e.g. 500K)");
    // One value per occurrence, so "--exclude X FOLDER" leaves FOLDER to the positionals.
    app.add_option("--exclude", settings.excludes, "skip paths matching this pattern (repeatable)")
        ->allow_extra_args(false);
    app.add_option("--log-level", log_level, "trace|debug|info|warn|error")
        ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error"}))
        ->capture_default_str();
    app.add_option("folders", folder_arguments, "FOLDER[=NAME] to watch and sync");
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        const int code = app.exit(e);
        return code == 0 ? 0 : 2;
    }

    auto fail = [](const std::string& message) -> ParsedAgentArgs {
        std::cerr << "minisyncd: " << message << "\n";
        return 2;
    };
    const auto server_address = parse_host_port(server);
    if (!server_address || server_address->port == 0) {
        return fail("--server: expected HOST:PORT, got '" + server + "'");
    }
    settings.server = *server_address;
    if (settings.server_name.empty()) {
        settings.server_name = default_server_name(settings.server);
    }
    if (!metrics.empty()) {
        settings.metrics = parse_host_port(metrics);
        if (!settings.metrics) {
            return fail("--metrics: expected ADDR:PORT, got '" + metrics + "'");
        }
    }
    if (!bwlimit.empty()) {
        settings.bwlimit = parse_byte_size(bwlimit);
        if (!settings.bwlimit || *settings.bwlimit == 0) {
            return fail("--bwlimit: expected a positive rate such as 500K or 10M, got '" + bwlimit + "'");
        }
    }
    settings.log_level = *parse_log_level(log_level);
    if (settings.state_path.empty()) {
        settings.state_path = default_state_path();
    }
    if (folder_arguments.empty()) {
        return fail("no folder to sync; usage: minisyncd [options] FOLDER[=NAME]...");
    }
    std::set<std::string> names;
    for (const std::string& argument : folder_arguments) {
        auto [path, name] = split_folder_argument(argument);
        std::error_code ec;
        const std::filesystem::path absolute = std::filesystem::canonical(path, ec);
        if (ec || !std::filesystem::is_directory(absolute, ec)) {
            return fail("folder '" + path + "' is not an existing directory");
        }
        // `minisyncd .` means the current directory by its real name.
        if (argument.rfind('=') == std::string::npos && absolute.has_filename()) {
            name = absolute.filename().string();
        }
        if (!is_valid_folder_name(name)) {
            return fail("invalid folder name '" + name + "' for '" + argument +
                        "': one path component of 1-255 bytes, not '.' or '..'");
        }
        if (!names.insert(name).second) {
            return fail("folder name '" + name + "' is used twice");
        }
        settings.folders.push_back(FolderSpec{absolute.string(), name});
    }
    return settings;
}

} // namespace minisync::agent
