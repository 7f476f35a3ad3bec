// minisyncd's settings: in-class defaults, then the command line (SPEC.md "minisyncd").
#pragma once

#include "host_port.h"
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
};

struct AgentSettings {
    HostPort server{"127.0.0.1", 7443};
    std::string server_name; // the name the server certificate must carry
    TlsFiles tls{"./client.crt", "./client.key", "./ca.crt"};
    std::string state_path;
    std::string control_socket;
    std::optional<HostPort> metrics;
    std::size_t workers = 4;
    std::optional<std::uint64_t> bwlimit; // bytes per second
    std::vector<std::string> excludes;
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

// Either the settings to run with or the exit code to leave with (0 after --help, 2 on a usage error).
using ParsedAgentArgs = std::variant<AgentSettings, int>;
ParsedAgentArgs parse_agent_args(int argc, const char* const* argv);

} // namespace minisync::agent
