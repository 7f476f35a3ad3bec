// minisync-server's settings: in-class defaults, then the config file (--config), then the command line
// (README.md "Server", docs/OPERATIONS.md "Configuration").
#pragma once

#include "host_port.h"
#include "result.h"
#include "tls_context.h"

#include <spdlog/common.h>

#include <chrono>
#include <cstddef>
#include <optional>
#include <string>
#include <variant>
#include <vector>

namespace minisync::server {

struct ServerSettings {
    HostPort listen{"127.0.0.1", 7443};
    std::string root = "./minisync-data";
    TlsFiles tls{"./server.crt", "./server.key", "./ca.crt"};
    std::vector<std::string> allow_cn; // empty: every CN the CA signed
    std::optional<HostPort> metrics;
    spdlog::level::level_enum log_level = spdlog::level::info;
    std::size_t workers = 4;
    // The limits left unset here are sized from the open-file limit at start (fd_budget.h), at most 1024
    // connections, 256 handshakes and 256 open uploads per client.
    // Authenticated connections open at once: in all, and per client CN (more are refused right after the
    // handshake), so no one client can take every slot.
    std::optional<std::size_t> max_connections;
    std::size_t max_connections_per_client = 16;
    // Connections still in their handshake, counted apart (handshake_admission.h): in all, and per source
    // address, so that no flood of strangers can take the authenticated clients' room.
    std::optional<std::size_t> max_handshakes;
    std::size_t max_handshakes_per_address = 8;
    // Uploads with their partial file open, in all and per client CN across all its connections (more are
    // answered BUSY), so that no one client can take the server's file descriptors.
    std::optional<std::size_t> max_open_uploads;
    std::optional<std::size_t> max_open_uploads_per_client;
    // A connection must finish its TLS handshake and HELLO within handshake_timeout, and after that is
    // dropped when nothing arrives from the peer for idle_timeout (the agent's KEEPALIVE counts).
    std::chrono::seconds handshake_timeout{10};
    std::chrono::seconds idle_timeout{120};
    // Uploads announcing more bytes are refused before anything is written; none: no limit.
    std::optional<std::uint64_t> max_file_size;
    // Partial uploads untouched for this long are deleted (checked at start and then daily).
    std::chrono::seconds partial_max_age = std::chrono::hours{24 * 7};
};

// Either the settings to run with or the exit code to leave with (0 after --help, 2 on a usage or config
// error, whose message is printed on stderr).
//
// Settings come from the in-class defaults, then the file named by --config (there is no implicit one),
// then the flags actually given. Every flag --some-flag is the config key some_flag (--allow-cn is the
// array allow_cn, which --allow-cn on the command line replaces); relative paths in the file are relative
// to the file's directory, those on the command line to the working directory.
using ParsedServerArgs = std::variant<ServerSettings, int>;
ParsedServerArgs parse_server_args(int argc, const char* const* argv);

// The same parse again, for a reload: argv is the server's original command line, argv[0] included.
// Prints nothing; on failure returns what parse_server_args() would have printed on stderr (lines
// starting with "minisync-server: ", without the final newline).
Result<ServerSettings> reload_server_settings(const std::vector<std::string>& argv);

} // namespace minisync::server
