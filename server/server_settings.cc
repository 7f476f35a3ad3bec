// minisync-server's settings from its config file (toml++, through config_file.h) and its command line
// (CLI11); every value is validated before the server starts.
#include "server_settings.h"

#include "config_file.h"
#include "path_rules.h"
#include "settings_outcome.h"
#include "settings_parser.h"

#include <CLI/CLI.hpp>

#include <iostream>

namespace minisync::server {

namespace {

constexpr std::string_view Program = "minisync-server";
constexpr std::int64_t MaxWorkers = 256;
constexpr std::int64_t MaxConnections = 1'000'000;
constexpr std::int64_t MaxOpenUploads = 100'000'000;
// An upload idle for less than an hour is more likely paused than abandoned.
constexpr std::chrono::seconds MinPartialMaxAge = std::chrono::hours{1};
// An agent sends KEEPALIVE every third of the idle timeout; below 2 s that would be chatter, not liveness.
constexpr std::chrono::seconds MinIdleTimeout{2};
constexpr std::chrono::seconds MinHandshakeTimeout{1};
// libevent adds a timeout to the current time in a time_t; near its limit the sum wraps and the timer fires
// at once, dropping every connection. A week is already no timeout in practice.
constexpr std::chrono::seconds MaxTimeout = std::chrono::hours{24 * 7};

using Outcome = ParseOutcome<ServerSettings>;

// The command line as given; a value counts only when its flag was given (CLI::App::count()).
struct CommandLine {
    std::string listen;
    std::string root;
    std::string cert;
    std::string key;
    std::string ca;
    std::vector<std::string> allow_cn;
    std::string metrics;
    std::string workers;
    std::string max_connections;
    std::string max_connections_per_client;
    std::string max_handshakes;
    std::string max_handshakes_per_address;
    std::string max_open_uploads;
    std::string max_open_uploads_per_client;
    std::string handshake_timeout;
    std::string idle_timeout;
    std::string max_file_size;
    std::string partial_max_age;
    std::string log_level;
};

const ValueKind<std::string>& client_cn_value()
{
    static const ValueKind<std::string> kind = checked_text_value(
        "a client name: one path component of 1-255 bytes, not starting with '.'", &is_valid_client_cn);
    return kind;
}

Outcome parse(int argc, const char* const* argv)
{
    ServerSettings settings;
    CommandLine cli;
    cli.listen = settings.listen.to_string();
    cli.root = settings.root;
    cli.cert = settings.tls.cert;
    cli.key = settings.tls.key;
    cli.ca = settings.tls.ca;
    cli.workers = std::to_string(settings.workers);
    cli.max_connections_per_client = std::to_string(settings.max_connections_per_client);
    cli.max_handshakes_per_address = std::to_string(settings.max_handshakes_per_address);
    cli.handshake_timeout = std::to_string(settings.handshake_timeout.count()) + "s";
    cli.idle_timeout = std::to_string(settings.idle_timeout.count()) + "s";
    cli.partial_max_age = "7d";
    cli.log_level = "info";

    SettingsParser parser{Program, "minisync-server: receives files from minisyncd agents over mutual TLS",
                          "--allow-cn"};
    CLI::App& app = parser.app();
    app.add_option("--listen", cli.listen, "ADDR:PORT to accept agents on")
        ->type_name("ADDR:PORT")
        ->capture_default_str();
    app.add_option("--root", cli.root, "directory files land in, as <root>/<client CN>/<folder>/")
        ->type_name("DIR")
        ->capture_default_str();
    app.add_option("--cert", cli.cert, "server certificate (PEM)")->type_name("FILE")->capture_default_str();
    app.add_option("--key", cli.key, "server private key (PEM)")->type_name("FILE")->capture_default_str();
    app.add_option("--ca", cli.ca, "CA that signs client certificates (PEM)")->type_name("FILE")->capture_default_str();
    app.add_option("--allow-cn", cli.allow_cn,
                   "accept only these client CNs (repeatable; replaces the config file's allow_cn)")
        ->type_name("CN")
        ->allow_extra_args(false);
    app.add_option("--metrics", cli.metrics, "ADDR:PORT for Prometheus metrics (off by default)")
        ->type_name("ADDR:PORT");
    app.add_option("--workers", cli.workers, "disk and hashing threads, 1 to 256")
        ->type_name("N")
        ->capture_default_str();
    app.add_option("--max-connections", cli.max_connections,
                   "authenticated connections open at once, in all (default: sized from the open-file limit, "
                   "at most 1024)")
        ->type_name("N");
    app.add_option("--max-connections-per-client", cli.max_connections_per_client,
                   "connections open at once with one client certificate CN")
        ->type_name("N")
        ->capture_default_str();
    app.add_option("--max-handshakes", cli.max_handshakes,
                   "connections still in their TLS handshake, in all (more are closed at accept; default: sized "
                   "from the open-file limit, at most 256)")
        ->type_name("N");
    app.add_option("--max-handshakes-per-address", cli.max_handshakes_per_address,
                   "connections still in their TLS handshake from one source address")
        ->type_name("N")
        ->capture_default_str();
    app.add_option("--max-open-uploads", cli.max_open_uploads,
                   "uploads with a partial file open at once, in all (more are answered BUSY; default: sized "
                   "from the open-file limit)")
        ->type_name("N");
    app.add_option("--max-open-uploads-per-client", cli.max_open_uploads_per_client,
                   "uploads with a partial file open at once for one client CN, over all its connections "
                   "(default: a quarter of --max-open-uploads, at most 512)")
        ->type_name("N");
    app.add_option("--handshake-timeout", cli.handshake_timeout,
                   "drop a connection that has not finished TLS and HELLO within this time (s, m or h suffix; "
                   "at most 7d)")
        ->type_name("TIME")
        ->capture_default_str();
    app.add_option("--idle-timeout", cli.idle_timeout,
                   "drop a connection on which nothing arrives for this long; agents send keepalives well "
                   "within it (s, m or h suffix; 2s to 7d)")
        ->type_name("TIME")
        ->capture_default_str();
    app.add_option("--max-file-size", cli.max_file_size,
                   "refuse uploads of files larger than this, K/M/G/T suffixes (e.g. 100G); default: no limit")
        ->type_name("SIZE");
    app.add_option("--partial-max-age", cli.partial_max_age,
                   "delete partial uploads untouched this long (s, m, h or d suffix; at least 1h)")
        ->type_name("AGE")
        ->capture_default_str();
    app.add_option("--log-level", cli.log_level, "trace|debug|info|warn|error")
        ->type_name("LEVEL")
        ->capture_default_str();
    if (auto failure = parser.read(argc, argv)) {
        return std::move(*failure);
    }
    TableReader* const top = parser.file();
    const SettingSources& from = parser.from();
    ConfigErrors& errors = parser.errors();

    if (auto listen = from.value("--listen", cli.listen, host_port_value(true))) {
        settings.listen = *listen;
    }
    if (auto root = from.path("--root", cli.root)) {
        if (root->empty()) {
            errors.add("--root must not be empty");
        }
        settings.root = *root;
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
    if (top) {
        if (auto allow_cn = top->get_array("allow_cn", client_cn_value())) {
            settings.allow_cn = std::move(*allow_cn);
        }
    }
    if (from.given("--allow-cn")) {
        settings.allow_cn.clear();
        for (const std::string& cn : cli.allow_cn) {
            if (auto valid = parse_flag_value("--allow-cn", cn, client_cn_value(), errors)) {
                settings.allow_cn.push_back(*valid);
            }
        }
    }
    if (auto metrics = from.value("--metrics", cli.metrics, host_port_value(true))) {
        settings.metrics = *metrics;
    }
    if (auto workers = from.value("--workers", cli.workers, integer_value(1, MaxWorkers))) {
        settings.workers = static_cast<std::size_t>(*workers);
    }
    if (auto limit = from.value("--max-connections", cli.max_connections, integer_value(1, MaxConnections))) {
        settings.max_connections = static_cast<std::size_t>(*limit);
    }
    if (auto limit = from.value("--max-connections-per-client", cli.max_connections_per_client,
                                integer_value(1, MaxConnections))) {
        settings.max_connections_per_client = static_cast<std::size_t>(*limit);
    }
    if (auto limit = from.value("--max-handshakes", cli.max_handshakes, integer_value(1, MaxConnections))) {
        settings.max_handshakes = static_cast<std::size_t>(*limit);
    }
    if (auto limit = from.value("--max-handshakes-per-address", cli.max_handshakes_per_address,
                                integer_value(1, MaxConnections))) {
        settings.max_handshakes_per_address = static_cast<std::size_t>(*limit);
    }
    if (auto limit = from.value("--max-open-uploads", cli.max_open_uploads, integer_value(1, MaxOpenUploads))) {
        settings.max_open_uploads = static_cast<std::size_t>(*limit);
    }
    if (auto limit = from.value("--max-open-uploads-per-client", cli.max_open_uploads_per_client,
                                integer_value(1, MaxOpenUploads))) {
        settings.max_open_uploads_per_client = static_cast<std::size_t>(*limit);
    }
    if (auto timeout = from.value("--handshake-timeout", cli.handshake_timeout,
                                  duration_value(MinHandshakeTimeout, MaxTimeout))) {
        settings.handshake_timeout = *timeout;
    }
    if (auto timeout =
            from.value("--idle-timeout", cli.idle_timeout, duration_value(MinIdleTimeout, MaxTimeout))) {
        settings.idle_timeout = *timeout;
    }
    if (auto limit = from.value("--max-file-size", cli.max_file_size, byte_size_value(1))) {
        settings.max_file_size = *limit;
    }
    if (auto max_age = from.value("--partial-max-age", cli.partial_max_age, duration_value(MinPartialMaxAge))) {
        settings.partial_max_age = *max_age;
    }
    if (auto level = from.value("--log-level", cli.log_level, log_level_value())) {
        settings.log_level = *level;
    }
    if (top) {
        top->report_unknown_keys();
    }
    if (auto failure = parser.failure()) {
        return std::move(*failure);
    }
    return settings;
}

} // namespace

ParsedServerArgs parse_server_args(int argc, const char* const* argv)
{
    return settings_for_start(parse(argc, argv));
}

Result<ServerSettings> reload_server_settings(const std::vector<std::string>& argv)
{
    return settings_for_reload<ServerSettings>(Program, argv, parse);
}

} // namespace minisync::server
