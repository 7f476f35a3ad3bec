// minisyncd's settings: in-class defaults, then the config file (--config), then the command line
// (README.md "Agent", docs/OPERATIONS.md "Configuration").
#pragma once

#include "host_port.h"
#include "result.h"
#include "tls_context.h"

#include <spdlog/common.h>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

namespace minisync::agent {

struct FolderSpec {
    std::string path; // absolute
    std::string name; // the folder's name on the server
    // Patterns for this folder only, on top of AgentSettings::excludes (a [[folder]] table's `exclude`).
    std::vector<std::string> excludes;
    // Like rsync -x: what another file system mounted below the folder holds is not synced
    // (docs/CONFIG.md `one_file_system`).
    bool one_file_system = true;
};

struct AgentSettings {
    HostPort server{"127.0.0.1", 7443};
    std::string server_name; // the name the server certificate must carry
    TlsFiles tls{"./client.crt", "./client.key", "./ca.crt"};
    std::string state_path;
    std::string control_socket; // empty: the default location (docs/CONTROL.md)
    // Members of this group may use the control socket too (--control-group); none by default.
    std::optional<std::string> control_group;
    std::optional<HostPort> metrics;
    std::size_t workers = 4;
    std::optional<std::uint64_t> bwlimit; // bytes per second
    std::vector<std::string> excludes; // for every folder
    spdlog::level::level_enum log_level = spdlog::level::info;
    std::vector<FolderSpec> folders;
};

// The server name checked when --server-name is not given: the host of --server, or the default
// server certificate's name when that host is an IP literal.
std::string default_server_name(const HostPort& server);

// $STATE_DIRECTORY/state.db under systemd, else ${XDG_STATE_HOME:-~/.local/state}/minisync/state.db.
std::string default_state_path();

// Splits FOLDER[=NAME] at the last '='; without a name the folder's basename is used.
std::pair<std::string, std::string> split_folder_argument(const std::string& argument);

// Either the settings to run with or the exit code to leave with (0 after --help, 2 on a usage or config
// error, whose message is printed on stderr).
//
// Settings come from the in-class defaults, then the file named by --config (there is no implicit one),
// then the flags actually given. Every flag --some-flag is the config key some_flag; relative paths in the
// file are relative to the file's directory, those on the command line to the working directory. Folders
// on the command line are added to the file's [[folder]] tables; an --exclude given on the command line
// replaces the file's top-level `exclude` (per-folder ones stay).
using ParsedAgentArgs = std::variant<AgentSettings, int>;
ParsedAgentArgs parse_agent_args(int argc, const char* const* argv);

// The same parse again, for a reload (SIGHUP): argv is the daemon's original command line, argv[0]
// included, so the config file is read again and the same flags still override it. Prints nothing; on
// failure returns what parse_agent_args() would have printed on stderr (one or more lines, each starting
// with "minisyncd: ", without the final newline).
Result<AgentSettings> reload_agent_settings(const std::vector<std::string>& argv);

} // namespace minisync::agent
