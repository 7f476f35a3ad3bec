// Fuzz target: any config file gives both daemons settings within their bounds, or errors; never a crash.
//
// The settings parsers read the file named by --config themselves, so the input is written to one file
// (the same path for every input) and each parser runs as on a reload: reload_agent_settings() and
// reload_server_settings() are parse_*_args() without the printing.
#include "agent_settings.h"
#include "path_rules.h"
#include "server_settings.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <initializer_list>
#include <limits>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace {

using namespace minisync;

void check(bool ok, const char* what)
{
    if (!ok) {
        std::fprintf(stderr, "fuzz_config_loader: invariant broken: %s\n", what);
        std::abort();
    }
}

// A private directory holding the one config file; relative paths in the input resolve inside it, so
// `path = "."` in a [[folder]] table names an existing directory.
class ConfigPath {
public:
    ConfigPath()
    {
        const char* tmpdir = std::getenv("TMPDIR");
        std::string dir = tmpdir != nullptr && *tmpdir == '/' ? tmpdir : "/tmp";
        dir += "/minisync-fuzz-config-XXXXXX";
        if (::mkdtemp(dir.data()) == nullptr) {
            std::perror("fuzz_config_loader: mkdtemp");
            std::abort();
        }
        dir_ = dir;
        path_ = dir + "/config.toml";
    }
    ~ConfigPath()
    {
        ::unlink(path_.c_str());
        ::rmdir(dir_.c_str());
    }
    ConfigPath(const ConfigPath&) = delete;
    ConfigPath& operator=(const ConfigPath&) = delete;

    const std::string& write(std::string_view text) const
    {
        std::FILE* file = std::fopen(path_.c_str(), "wb");
        if (file == nullptr || std::fwrite(text.data(), 1, text.size(), file) != text.size() ||
            std::fclose(file) != 0) {
            std::perror("fuzz_config_loader: writing the config file");
            std::abort();
        }
        return path_;
    }

private:
    std::string dir_;
    std::string path_;
};

// Settings end up as C strings (file, host and group names, fnmatch patterns), where a NUL byte would
// silently cut the value short: none may hold one.
void check_text(std::string_view text, const char* what)
{
    check(text.find('\0') == std::string_view::npos, what);
}

// Every line of a refusal starts with the program's name, as the daemons print it on stderr.
void check_error_lines(const std::string& error, std::string_view program)
{
    check(!error.empty(), "settings refused without a message");
    const std::string prefix = std::string{program} + ": ";
    std::size_t start = 0;
    while (start <= error.size()) {
        const std::size_t end = std::min(error.find('\n', start), error.size());
        check(std::string_view{error}.substr(start, end - start).starts_with(prefix), "error line without the program");
        start = end + 1;
    }
}

void check_agent(const std::string& path)
{
    const auto result = agent::reload_agent_settings({"minisyncd", "--config", path});
    if (!result.ok()) {
        check_error_lines(result.error().message, "minisyncd");
        return;
    }
    const agent::AgentSettings& settings = result.value();
    check(settings.server.port != 0 && !settings.server_name.empty(), "agent server");
    check(settings.workers >= 1 && settings.workers <= 256, "agent workers out of range");
    check(!settings.bwlimit || *settings.bwlimit >= 1, "agent bwlimit below 1");
    check(!settings.tls.cert.empty() && !settings.tls.key.empty() && !settings.tls.ca.empty(), "agent TLS paths");
    check(!settings.state_path.empty(), "agent state path");
    for (const std::string_view text : {std::string_view{settings.server.host}, std::string_view{settings.server_name},
                                        std::string_view{settings.tls.cert}, std::string_view{settings.tls.key},
                                        std::string_view{settings.tls.ca}, std::string_view{settings.state_path},
                                        std::string_view{settings.control_socket}}) {
        check_text(text, "agent setting holds a NUL byte");
    }
    check_text(settings.control_group.value_or(""), "agent control_group holds a NUL byte");
    check_text(settings.metrics ? settings.metrics->host : "", "agent metrics host holds a NUL byte");
    check(!settings.folders.empty(), "agent settings without a folder");
    std::set<std::string> names;
    for (const agent::FolderSpec& folder : settings.folders) {
        check(is_valid_folder_name(folder.name), "agent folder name invalid");
        check(names.insert(folder.name).second, "agent folder name used twice");
        check(!folder.path.empty() && folder.path.front() == '/', "agent folder path not absolute");
        check_text(folder.path, "agent folder path holds a NUL byte");
        for (const std::string& pattern : folder.excludes) {
            check(!pattern.empty(), "agent folder exclude empty");
            check_text(pattern, "agent folder exclude holds a NUL byte");
        }
    }
    for (const std::string& pattern : settings.excludes) {
        check(!pattern.empty(), "agent exclude empty");
        check_text(pattern, "agent exclude holds a NUL byte");
    }
}

void check_server(const std::string& path)
{
    const auto result = server::reload_server_settings({"minisync-server", "--config", path});
    if (!result.ok()) {
        check_error_lines(result.error().message, "minisync-server");
        return;
    }
    const server::ServerSettings& settings = result.value();
    check(!settings.root.empty(), "server root empty");
    for (const std::string_view text : {std::string_view{settings.listen.host}, std::string_view{settings.root},
                                        std::string_view{settings.tls.cert}, std::string_view{settings.tls.key},
                                        std::string_view{settings.tls.ca}}) {
        check_text(text, "server setting holds a NUL byte");
    }
    check_text(settings.metrics ? settings.metrics->host : "", "server metrics host holds a NUL byte");
    check(!settings.tls.cert.empty() && !settings.tls.key.empty() && !settings.tls.ca.empty(), "server TLS paths");
    check(settings.workers >= 1 && settings.workers <= 256, "server workers out of range");
    // Limits left unset are sized from the open-file limit at start (server/fd_budget.h); given, they are in range.
    const auto unset_or_in_range = [](const std::optional<std::size_t>& limit, std::size_t most) {
        return !limit || (*limit >= 1 && *limit <= most);
    };
    check(unset_or_in_range(settings.max_connections, 1'000'000), "server max_connections");
    check(unset_or_in_range(settings.max_handshakes, 1'000'000), "server max_handshakes");
    check(unset_or_in_range(settings.max_open_uploads, 100'000'000), "server max_open_uploads");
    check(unset_or_in_range(settings.max_open_uploads_per_client, 100'000'000),
          "server max_open_uploads_per_client");
    check(settings.max_connections_per_client >= 1 && settings.max_connections_per_client <= 1'000'000,
          "server max_connections_per_client");
    check(settings.partial_max_age >= std::chrono::hours{1}, "server partial_max_age below 1h");
    // The timeouts become libevent timers, which add them to the current time in a time_t: near its limit
    // the sum wraps and the timer fires at once. HELLO_OK carries the idle timeout in a u32, so that is
    // the bound used here; any sane limit is far below it.
    constexpr std::chrono::seconds MaxTimer{std::numeric_limits<std::uint32_t>::max()};
    check(settings.handshake_timeout >= std::chrono::seconds{1} && settings.handshake_timeout <= MaxTimer,
          "server handshake_timeout out of range");
    check(settings.idle_timeout >= std::chrono::seconds{2} && settings.idle_timeout <= MaxTimer,
          "server idle_timeout out of range");
    check(!settings.max_file_size || *settings.max_file_size >= 1, "server max_file_size below 1");
    for (const std::string& cn : settings.allow_cn) {
        check(is_valid_client_cn(cn), "server allow_cn invalid");
    }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    static const ConfigPath config;
    const std::string& path = config.write({reinterpret_cast<const char*>(data), size});
    check_agent(path);
    check_server(path);
    return 0;
}
