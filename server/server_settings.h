// minisync-server's settings: in-class defaults, then the command line (SPEC.md "minisync-server").
#pragma once

#include "host_port.h"
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
    // Partial uploads untouched for this long are deleted (checked at start and then daily).
    std::chrono::seconds partial_max_age = std::chrono::hours{24 * 7};
};

// Either the settings to run with or the exit code to leave with (0 after --help, 2 on a usage error).
using ParsedServerArgs = std::variant<ServerSettings, int>;
ParsedServerArgs parse_server_args(int argc, const char* const* argv);

} // namespace minisync::server
