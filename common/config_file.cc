// Config file reading with toml++: the file is read whole (bounded), parse errors become
// "FILE:LINE:COL: ...", and the getters turn TOML values into settings or into "FILE:LINE: key ..." errors.
#include "config_file.h"

#include "byte_size.h"
#include "duration.h"
#include "logging.h"
#include "unique_fd.h"

#include <fcntl.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <filesystem>
#include <limits>
#include <system_error>
#include <utility>

namespace minisync {

namespace detail {

// Each control character shown as '?': a message stays on its line, whatever the text it quotes holds.
std::string printable(std::string_view text)
{
    std::string out{text};
    for (char& c : out) {
        const auto byte = static_cast<unsigned char>(c);
        if (byte < 0x20 || byte == 0x7f) {
            c = '?';
        }
    }
    return out;
}

// Values from a config file or a command line may be long or hold control characters; a message shows a
// bounded, printable prefix.
std::string quote_for_message(std::string_view text, std::size_t max_shown)
{
    return "'" + printable(text.substr(0, max_shown)) + (text.size() > max_shown ? "...'" : "'");
}

} // namespace detail

namespace {

std::string describe(const toml::node& node)
{
    switch (node.type()) {
    case toml::node_type::string:
        if (node.as_string()->get().find('\0') != std::string::npos) {
            return detail::quote_for_message(node.as_string()->get()) + ", which holds a NUL byte";
        }
        return detail::quote_for_message(node.as_string()->get());
    case toml::node_type::integer:
        return std::to_string(node.as_integer()->get());
    case toml::node_type::floating_point:
        return "the number " + std::to_string(node.as_floating_point()->get());
    case toml::node_type::boolean:
        return node.as_boolean()->get() ? "true" : "false";
    case toml::node_type::table:
        return "a table";
    case toml::node_type::array:
        return "an array";
    case toml::node_type::date:
    case toml::node_type::time:
    case toml::node_type::date_time:
        return "a date or time";
    case toml::node_type::none:
        break;
    }
    return "nothing";
}

std::string format_duration(std::chrono::seconds duration)
{
    const std::int64_t s = duration.count();
    if (s != 0 && s % 86400 == 0) {
        return std::to_string(s / 86400) + "d";
    }
    if (s != 0 && s % 3600 == 0) {
        return std::to_string(s / 3600) + "h";
    }
    if (s != 0 && s % 60 == 0) {
        return std::to_string(s / 60) + "m";
    }
    return std::to_string(s) + "s";
}

// Levenshtein distance, to suggest the key a typo was meant to be.
std::size_t edit_distance(std::string_view a, std::string_view b)
{
    std::vector<std::size_t> row(b.size() + 1);
    for (std::size_t j = 0; j <= b.size(); ++j) {
        row[j] = j;
    }
    for (std::size_t i = 1; i <= a.size(); ++i) {
        std::size_t diagonal = row[0];
        row[0] = i;
        for (std::size_t j = 1; j <= b.size(); ++j) {
            const std::size_t above = row[j];
            row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
            diagonal = above;
        }
    }
    return row[b.size()];
}

Result<std::string> read_bounded(const std::string& path)
{
    const auto fail = [&](const std::string& what, int code) {
        return Error{ErrorCode::Config, "couldn't open '" + path + "': " + what + " (" + std::to_string(code) + ")",
                     code};
    };
    const UniqueFd fd{::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY)};
    if (!fd) {
        const int code = errno;
        return fail(std::system_category().message(code), code);
    }
    struct stat st {};
    if (::fstat(fd.get(), &st) != 0) {
        const int code = errno;
        return fail(std::system_category().message(code), code);
    }
    if (S_ISDIR(st.st_mode)) {
        return fail(std::system_category().message(EISDIR), EISDIR);
    }
    std::string text;
    char buffer[16384];
    for (;;) {
        const ssize_t n = ::read(fd.get(), buffer, sizeof buffer);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            const int code = errno;
            return fail(std::system_category().message(code), code);
        }
        if (n == 0) {
            return text;
        }
        if (text.size() + static_cast<std::size_t>(n) > MaxConfigFileBytes) {
            return Error{ErrorCode::Config, "couldn't read '" + path + "': larger than " +
                                                std::to_string(MaxConfigFileBytes / 1024) +
                                                " KiB, which no config file needs"};
        }
        text.append(buffer, static_cast<std::size_t>(n));
    }
}

} // namespace

std::string config_key(std::string_view flag)
{
    while (flag.starts_with('-')) {
        flag.remove_prefix(1);
    }
    std::string key{flag};
    std::replace(key.begin(), key.end(), '-', '_');
    return key;
}

// ---- ConfigErrors -----------------------------------------------------------------------------------

void ConfigErrors::add(std::string_view file, std::uint32_t line, std::string_view message)
{
    entries_.push_back(Entry{true, line, std::string{file} + ":" + std::to_string(line) + ": " + std::string{message}});
}

void ConfigErrors::add(std::string message)
{
    entries_.push_back(Entry{false, 0, std::move(message)});
}

std::string ConfigErrors::format(std::string_view program) const
{
    std::vector<const Entry*> ordered;
    for (const Entry& entry : entries_) {
        ordered.push_back(&entry);
    }
    std::stable_sort(ordered.begin(), ordered.end(), [](const Entry* a, const Entry* b) {
        if (a->in_file != b->in_file) {
            return a->in_file;
        }
        return a->in_file && a->line < b->line;
    });
    std::string out;
    for (const Entry* entry : ordered) {
        if (!out.empty()) {
            out += '\n';
        }
        out += std::string{program} + ": " + entry->text;
    }
    return out;
}

// ---- value kinds ------------------------------------------------------------------------------------

ValueKind<std::string> text_value(std::string expected)
{
    ValueKind<std::string> kind;
    kind.expected = std::move(expected);
    kind.from_text = [](std::string_view text) -> std::optional<std::string> {
        if (text.empty()) {
            return std::nullopt;
        }
        return std::string{text};
    };
    return kind;
}

ValueKind<std::string> checked_text_value(std::string expected, bool (*valid)(std::string_view) noexcept)
{
    ValueKind<std::string> kind;
    kind.expected = std::move(expected);
    kind.from_text = [valid](std::string_view text) -> std::optional<std::string> {
        if (text.empty() || !valid(text)) {
            return std::nullopt;
        }
        return std::string{text};
    };
    return kind;
}

ValueKind<bool> boolean_value()
{
    ValueKind<bool> kind;
    kind.expected = "true or false";
    kind.accepts_strings = false; // one_file_system = "false" is a type error in the file
    kind.from_boolean = [](bool value) -> std::optional<bool> { return value; };
    kind.from_text = [](std::string_view text) -> std::optional<bool> {
        if (text == "true" || text == "false") {
            return text == "true";
        }
        return std::nullopt;
    };
    return kind;
}

ValueKind<std::int64_t> integer_value(std::int64_t min, std::int64_t max)
{
    ValueKind<std::int64_t> kind;
    kind.expected = max == std::numeric_limits<std::int64_t>::max()
                        ? "an integer of at least " + std::to_string(min)
                        : "an integer from " + std::to_string(min) + " to " + std::to_string(max);
    kind.from_integer = [min, max](std::int64_t value) -> std::optional<std::int64_t> {
        if (value < min || value > max) {
            return std::nullopt;
        }
        return value;
    };
    kind.accepts_strings = false; // workers = "4" is a type error in the file
    kind.from_text = [from_integer = kind.from_integer](std::string_view text) -> std::optional<std::int64_t> {
        std::int64_t value = 0;
        const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
        if (ec != std::errc{} || end != text.data() + text.size() || text.empty()) {
            return std::nullopt;
        }
        return from_integer(value);
    };
    return kind;
}

ValueKind<std::uint64_t> byte_size_value(std::uint64_t min)
{
    ValueKind<std::uint64_t> kind;
    kind.expected = (min <= 1 ? std::string{"a positive integer"} : "an integer of at least " + std::to_string(min)) +
                    " or a string such as '500K' or '10M' (K, M, G are powers of 1024)";
    kind.from_text = [min](std::string_view text) -> std::optional<std::uint64_t> {
        const auto value = parse_byte_size(text);
        if (!value || *value < min) {
            return std::nullopt;
        }
        return value;
    };
    kind.from_integer = [min](std::int64_t value) -> std::optional<std::uint64_t> {
        if (value < 0 || static_cast<std::uint64_t>(value) < min) {
            return std::nullopt;
        }
        return static_cast<std::uint64_t>(value);
    };
    return kind;
}

ValueKind<std::chrono::seconds> duration_value(std::chrono::seconds min, std::chrono::seconds max)
{
    ValueKind<std::chrono::seconds> kind;
    kind.expected = (max == std::chrono::seconds::max()
                         ? "a duration of at least " + format_duration(min)
                         : "a duration from " + format_duration(min) + " to " + format_duration(max)) +
                    ": seconds as an integer, or a string such as '7d' or '12h' (s, m, h, d)";
    kind.from_text = [min, max](std::string_view text) -> std::optional<std::chrono::seconds> {
        const auto value = parse_duration(text);
        if (!value || *value < min || *value > max) {
            return std::nullopt;
        }
        return value;
    };
    kind.from_integer = [min, max](std::int64_t value) -> std::optional<std::chrono::seconds> {
        if (std::chrono::seconds{value} < min || std::chrono::seconds{value} > max) {
            return std::nullopt;
        }
        return std::chrono::seconds{value};
    };
    return kind;
}

ValueKind<HostPort> host_port_value(bool allow_port_zero)
{
    ValueKind<HostPort> kind;
    kind.expected = allow_port_zero ? "ADDR:PORT (an IPv6 address in brackets)"
                                    : "HOST:PORT with a port from 1 to 65535 (an IPv6 address in brackets)";
    kind.from_text = [allow_port_zero](std::string_view text) -> std::optional<HostPort> {
        auto value = parse_host_port(text);
        if (!value || (!allow_port_zero && value->port == 0)) {
            return std::nullopt;
        }
        return value;
    };
    return kind;
}

ValueKind<spdlog::level::level_enum> log_level_value()
{
    ValueKind<spdlog::level::level_enum> kind;
    kind.expected = "one of trace, debug, info, warn, error";
    kind.from_text = [](std::string_view text) { return parse_log_level(text); };
    return kind;
}

// ---- ConfigFile -------------------------------------------------------------------------------------

ConfigFile::ConfigFile(std::string path, toml::table root)
    : path_{std::move(path)}, root_{std::move(root)}
{
    std::error_code ec;
    std::filesystem::path absolute = std::filesystem::absolute(path_, ec);
    if (ec) {
        absolute = path_;
    }
    directory_ = absolute.lexically_normal().parent_path().string();
}

Result<ConfigFile> ConfigFile::load(const std::string& path)
{
    Result<std::string> text = read_bounded(path);
    if (!text.ok()) {
        return text.error();
    }
    return parse(text.value(), path);
}

Result<ConfigFile> ConfigFile::parse(std::string_view text, const std::string& path)
{
    try {
        toml::table root = toml::parse(text, std::string_view{path});
        return ConfigFile{path, std::move(root)};
    } catch (const toml::parse_error& e) {
        const toml::source_position& where = e.source().begin;
        // toml++ quotes what it saw, which may be a newline or another control character.
        return Error{ErrorCode::Config, path + ":" + std::to_string(where.line) + ":" +
                                            std::to_string(where.column) + ": " + detail::printable(e.description())};
    }
}

std::string ConfigFile::resolve_path(const std::string& written) const
{
    const std::filesystem::path path{written};
    if (path.is_absolute()) {
        return written;
    }
    return (std::filesystem::path{directory_} / path).lexically_normal().string();
}

// ---- TableReader ------------------------------------------------------------------------------------

TableReader::TableReader(const ConfigFile& file, const toml::table& table, ConfigErrors& errors, std::string prefix)
    : file_{&file}, table_{&table}, errors_{&errors}, prefix_{std::move(prefix)}
{
}

const toml::node* TableReader::lookup(std::string_view key)
{
    known_.emplace(key);
    return table_->get(key);
}

bool TableReader::has(std::string_view key) const
{
    return table_->contains(key);
}

std::uint32_t TableReader::table_line() const
{
    return table_->source().begin.line;
}

std::uint32_t TableReader::line(std::string_view key) const
{
    const auto it = table_->find(key);
    if (it == table_->end()) {
        return table_line();
    }
    if (const std::uint32_t line = it->first.source().begin.line; line != 0) {
        return line;
    }
    return it->second.source().begin.line;
}

void TableReader::error(std::string_view key, std::string_view message)
{
    errors_->add(file_->path(), line(key), "key '" + qualified(key) + "': " + std::string{message});
}

void TableReader::missing(std::string_view key)
{
    errors_->add(file_->path(), table_line(), "missing key '" + qualified(key) + "'");
}

void TableReader::wrong_value(std::string_view key, const toml::node& value, std::string_view expected)
{
    error(key, "expected " + std::string{expected} + ", got " + describe(value));
}

void TableReader::wrong_element(std::string_view key, std::size_t index, const toml::node& value,
                                std::string_view expected)
{
    std::uint32_t at = value.source().begin.line;
    if (at == 0) {
        at = line(key);
    }
    errors_->add(file_->path(), at,
                 "key '" + qualified(key) + "', element " + std::to_string(index + 1) + ": expected " +
                     std::string{expected} + ", got " + describe(value));
}

std::optional<std::string> TableReader::get_path(std::string_view key)
{
    std::optional<std::string> written = get(key, text_value("a non-empty path"));
    if (!written) {
        return std::nullopt;
    }
    return file_->resolve_path(*written);
}

std::vector<TableReader> TableReader::get_tables(std::string_view key)
{
    std::vector<TableReader> readers;
    const toml::node* node = lookup(key);
    if (node == nullptr) {
        return readers;
    }
    const toml::array* array = node->as_array();
    const bool all_tables = array != nullptr && array->is_array_of_tables();
    if (!all_tables) {
        wrong_value(key, *node, "tables written as [[" + qualified(key) + "]]");
        return readers;
    }
    for (const toml::node& element : *array) {
        readers.emplace_back(*file_, *element.as_table(), *errors_, qualified(key) + ".");
    }
    return readers;
}

void TableReader::report_unknown_keys()
{
    for (const auto& [key, value] : *table_) {
        const std::string_view name = key.str();
        if (known_.contains(name)) {
            continue;
        }
        // quote_for_message() gives "'name'"; the prefix goes inside the quotes.
        std::string message = "unknown key '" + prefix_ + detail::quote_for_message(name).substr(1);
        const std::string* best = nullptr;
        std::size_t best_distance = 3; // suggest only near misses
        for (const std::string& candidate : known_) {
            const std::size_t distance = edit_distance(name, candidate);
            if (distance < best_distance && distance < candidate.size()) {
                best = &candidate;
                best_distance = distance;
            }
        }
        if (best != nullptr) {
            message += " (did you mean '" + prefix_ + *best + "'?)";
        }
        std::uint32_t at = key.source().begin.line;
        if (at == 0) {
            at = value.source().begin.line;
        }
        errors_->add(file_->path(), at, message);
    }
}

// ---- SettingSources ---------------------------------------------------------------------------------

std::optional<std::string> SettingSources::path(std::string_view flag, const std::string& text) const
{
    std::optional<std::string> result;
    if (file_ != nullptr) {
        result = file_->get_path(config_key(flag));
    }
    if (given(flag)) {
        result = text;
    }
    return result;
}

} // namespace minisync
