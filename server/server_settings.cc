// Command-line parsing for minisync-server with CLI11; every value is validated before the server starts.
#include "server_settings.h"

#include "duration.h"
#include "logging.h"
#include "path_rules.h"

#include <CLI/CLI.hpp>

#include <iostream>

namespace minisync::server {

ParsedServerArgs parse_server_args(int argc, const char* const* argv)
{
    ServerSettings settings;
    CLI::App app{"minisync-server: receives files from minisyncd agents over mutual TLS", "minisync-server"};
    std::string listen = settings.listen.to_string();
    std::string metrics;
    std::string log_level = "info";
    std::string partial_max_age = "7d";
    app.add_option("--listen", listen, "ADDR:PORT to accept agents on")->capture_default_str();
    app.add_option("--root", settings.root, "directory files land in, as <root>/<client CN>/<folder>/")
        ->capture_default_str();
    app.add_option("--cert", settings.tls.cert, "server certificate (PEM)")->capture_default_str();
    app.add_option("--key", settings.tls.key, "server private key (PEM)")->capture_default_str();
    app.add_option("--ca", settings.tls.ca, "CA that signs client certificates (PEM)")->capture_default_str();
    app.add_option("--allow-cn", settings.allow_cn, "accept only these client CNs (repeatable)")
        ->allow_extra_args(false);
    app.add_option("--metrics", metrics, "ADDR:PORT for Prometheus metrics (off by default)");
    app.add_option("--workers", settings.workers, "disk and hashing threads")
        ->check(CLI::Range(1, 256))
        ->capture_default_str();
    app.add_option("--partial-max-age", partial_max_age,
                   "delete partial uploads untouched this long (s, m, h or d suffix)")
        ->capture_default_str();
    app.add_option("--log-level", log_level, "trace|debug|info|warn|error")
        ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error"}))
        ->capture_default_str();
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        const int code = app.exit(e);
        return code == 0 ? 0 : 2;
    }

    auto fail = [](const std::string& message) -> ParsedServerArgs {
        std::cerr << "minisync-server: " << message << "\n";
        return 2;
    };
    const auto listen_address = parse_host_port(listen);
    if (!listen_address) {
        return fail("--listen: expected ADDR:PORT, got '" + listen + "'");
    }
    settings.listen = *listen_address;
    if (!metrics.empty()) {
        settings.metrics = parse_host_port(metrics);
        if (!settings.metrics) {
            return fail("--metrics: expected ADDR:PORT, got '" + metrics + "'");
        }
    }
    for (const std::string& cn : settings.allow_cn) {
        if (!is_valid_client_cn(cn)) {
            return fail("--allow-cn: '" + cn + "' is not a valid client name (one path component, not starting with '.')");
        }
    }
    if (settings.root.empty()) {
        return fail("--root must not be empty");
    }
    // An upload idle for less than an hour is more likely paused than abandoned.
    const auto max_age = parse_duration(partial_max_age);
    if (!max_age || *max_age < std::chrono::hours{1}) {
        return fail("--partial-max-age: expected a duration of at least 1h, such as 7d or 12h, got '" +
                    partial_max_age + "'");
    }
    settings.partial_max_age = *max_age;
    settings.log_level = *parse_log_level(log_level);
    return settings;
}

} // namespace minisync::server
