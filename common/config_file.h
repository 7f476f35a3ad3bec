// TOML config files for both daemons: reading and parsing one with toml++, typed and range-checked
// getters, unknown-key detection, and the error list that names file, line and key for each problem.
#pragma once

#include "host_port.h"
#include "result.h"

#include <spdlog/common.h>
#include <toml++/toml.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace minisync {

// Config files larger than this are refused rather than read: a config is a page of text.
constexpr std::size_t MaxConfigFileBytes = 1024 * 1024;

// The config key of a command-line flag: "--server-name" is "server_name".
std::string config_key(std::string_view flag);

// The problems found while assembling settings from a config file and the command line. Each names its
// source: "FILE:LINE: key 'x': ..." for the file, "--flag: ..." for the command line.
class ConfigErrors {
public:
    // A problem at a line of a config file; printed as "FILE:LINE: message".
    void add(std::string_view file, std::uint32_t line, std::string_view message);
    // A problem with no line to point at (the command line, or the settings as a whole).
    void add(std::string message);

    [[nodiscard]] bool empty() const noexcept { return entries_.empty(); }

    // Every problem on its own line, each prefixed with "PROGRAM: ", file problems first in line order and
    // then the rest in the order they were found. No trailing newline.
    [[nodiscard]] std::string format(std::string_view program) const;

private:
    struct Entry {
        bool in_file = false;
        std::uint32_t line = 0;
        std::string text;
    };
    std::vector<Entry> entries_;
};

// What a setting's value must be. The same kind reads the command-line text and the config file's TOML
// value, so both report the same "expected ...".
template <class T>
struct ValueKind {
    std::string expected; // completes "expected ...", e.g. "an integer from 1 to 256"
    // Parses command-line text, and a TOML string when accepts_strings is set.
    std::function<std::optional<T>(std::string_view)> from_text;
    bool accepts_strings = true;
    // Converts a TOML integer; empty when integers are not accepted.
    std::function<std::optional<T>(std::int64_t)> from_integer;
    // Converts a TOML boolean; empty when booleans are not accepted.
    std::function<std::optional<T>(bool)> from_boolean;
};

// A non-empty string, taken as written.
ValueKind<std::string> text_value(std::string expected = "a non-empty string");
// A non-empty string that valid() accepts.
ValueKind<std::string> checked_text_value(std::string expected, bool (*valid)(std::string_view) noexcept);
// A TOML boolean (or, on the command line, "true" or "false").
ValueKind<bool> boolean_value();
// A TOML integer (or, on the command line, decimal digits) in [min, max].
ValueKind<std::int64_t> integer_value(std::int64_t min, std::int64_t max);
// At least min bytes: an integer, or a string with an optional K, M, G or T suffix (powers of 1024).
ValueKind<std::uint64_t> byte_size_value(std::uint64_t min);
// From min to max: an integer of seconds, or a string with an s, m, h or d suffix.
ValueKind<std::chrono::seconds> duration_value(std::chrono::seconds min,
                                               std::chrono::seconds max = std::chrono::seconds::max());
// "HOST:PORT" or "[IPv6]:PORT"; port 0 only when allow_port_zero.
ValueKind<HostPort> host_port_value(bool allow_port_zero);
// trace, debug, info, warn or error.
ValueKind<spdlog::level::level_enum> log_level_value();

// Parses a command-line value; on failure records "FLAG: expected ..., got 'TEXT'" and returns nothing.
template <class T>
std::optional<T> parse_flag_value(std::string_view flag, std::string_view text, const ValueKind<T>& kind,
                                  ConfigErrors& errors);

// A parsed config file. Relative paths written in it are relative to its directory, not to the working
// directory, so a file and the certificates beside it can move together.
class ConfigFile {
public:
    // Reads and parses path. The error (code Config) is one line naming the file: "couldn't open 'PATH': ..." or, for
    // bad TOML, "PATH:LINE:COL: what is wrong".
    static Result<ConfigFile> load(const std::string& path);
    // Parses text as if it had been read from path (which is only used for messages and relative paths).
    static Result<ConfigFile> parse(std::string_view text, const std::string& path);

    [[nodiscard]] const std::string& path() const noexcept { return path_; }
    [[nodiscard]] const toml::table& root() const noexcept { return root_; }
    // A path written in the file: kept when absolute, else made absolute against the file's directory.
    [[nodiscard]] std::string resolve_path(const std::string& written) const;

private:
    ConfigFile(std::string path, toml::table root);

    std::string path_;      // as given, for messages
    std::string directory_; // absolute
    toml::table root_;
};

// Reads the keys of one table of a config file. Every getter returns nothing when the key is absent, and
// also when its value is of the wrong type or out of range, after recording
// "FILE:LINE: key 'NAME': expected ..., got ...". A key some getter asked for is known; the others are
// reported by report_unknown_keys(), which the caller runs once it has read every key of the table.
class TableReader {
public:
    // prefix names the table in messages: with "folder." a key 'path' is reported as 'folder.path'.
    TableReader(const ConfigFile& file, const toml::table& table, ConfigErrors& errors, std::string prefix = {});

    template <class T>
    std::optional<T> get(std::string_view key, const ValueKind<T>& kind);
    // An array whose every element is of kind.
    template <class T>
    std::optional<std::vector<T>> get_array(std::string_view key, const ValueKind<T>& kind);
    // A non-empty string naming a file or directory, resolved with ConfigFile::resolve_path().
    std::optional<std::string> get_path(std::string_view key);
    // The tables of an array of tables ([[key]]), each with its own reader. Empty when the key is absent.
    std::vector<TableReader> get_tables(std::string_view key);

    // Whether the table holds key (without marking it known).
    [[nodiscard]] bool has(std::string_view key) const;
    // The line of key, or of the table itself when the key is absent.
    [[nodiscard]] std::uint32_t line(std::string_view key) const;
    [[nodiscard]] std::uint32_t table_line() const;
    [[nodiscard]] const ConfigFile& file() const noexcept { return *file_; }
    [[nodiscard]] std::string qualified(std::string_view key) const { return prefix_ + std::string{key}; }

    // Records a problem the caller found with key's value: "FILE:LINE: key 'NAME': message".
    void error(std::string_view key, std::string_view message);
    // Records that a required key is absent, at the table's line.
    void missing(std::string_view key);
    // Records "unknown key 'NAME'" for every key no getter asked for, with a suggestion for a near miss.
    void report_unknown_keys();

private:
    // Marks key as known and returns its value, or nullptr when absent.
    const toml::node* lookup(std::string_view key);
    void wrong_value(std::string_view key, const toml::node& value, std::string_view expected);
    void wrong_element(std::string_view key, std::size_t index, const toml::node& value, std::string_view expected);

    template <class T>
    static std::optional<T> convert(const toml::node& node, const ValueKind<T>& kind);

    const ConfigFile* file_;
    const toml::table* table_;
    ConfigErrors* errors_;
    std::string prefix_;
    std::set<std::string, std::less<>> known_;
};

// Where each setting comes from, later sources winning: the built-in default (the caller's), then the
// config file, then the command line, of which only the flags actually given count.
class SettingSources {
public:
    // file is nullptr without a config file; given(flag) says whether the command line had flag.
    SettingSources(TableReader* file, std::function<bool(std::string_view flag)> given, ConfigErrors& errors)
        : file_{file}, given_{std::move(given)}, errors_{&errors}
    {
    }

    [[nodiscard]] bool given(std::string_view flag) const { return given_(flag); }
    [[nodiscard]] TableReader* file() const noexcept { return file_; }

    // The value of flag's key in the file, replaced by text when the flag was given; nothing when neither
    // has it or the one that wins is bad (and then recorded in the errors).
    template <class T>
    std::optional<T> value(std::string_view flag, const std::string& text, const ValueKind<T>& kind) const;

    // A path: from the file, relative to the file's directory; from the command line, kept as given (relative
    // to the working directory) and possibly empty.
    std::optional<std::string> path(std::string_view flag, const std::string& text) const;

private:
    TableReader* file_;
    std::function<bool(std::string_view)> given_;
    ConfigErrors* errors_;
};

// ---- implementation of the templates ------------------------------------------------------------------

namespace detail {
// text in single quotes for a message: each control character shown as '?', so a value cannot break the
// one-problem-per-line output, and at most max_shown bytes of it, then "...". Paths and names that the
// reader needs whole pass a larger max_shown.
std::string quote_for_message(std::string_view text, std::size_t max_shown = 80);
// text whole, with each control character shown as '?'.
std::string printable(std::string_view text);
} // namespace detail

template <class T>
std::optional<T> parse_flag_value(std::string_view flag, std::string_view text, const ValueKind<T>& kind,
                                  ConfigErrors& errors)
{
    std::optional<T> value = kind.from_text(text);
    if (!value) {
        errors.add(std::string{flag} + ": expected " + kind.expected + ", got " + detail::quote_for_message(text));
    }
    return value;
}

template <class T>
std::optional<T> TableReader::convert(const toml::node& node, const ValueKind<T>& kind)
{
    if (const auto* integer = node.as_integer(); integer != nullptr && kind.from_integer) {
        return kind.from_integer(integer->get());
    }
    if (const auto* boolean = node.as_boolean(); boolean != nullptr && kind.from_boolean) {
        return kind.from_boolean(boolean->get());
    }
    if (const auto* string = node.as_string(); string != nullptr && kind.accepts_strings) {
        // TOML lets a string hold "\u0000", but every setting ends up as a C string (a file, host or group
        // name, an fnmatch pattern) that would silently stop at the NUL.
        if (string->get().find('\0') != std::string::npos) {
            return std::nullopt;
        }
        return kind.from_text(string->get());
    }
    return std::nullopt;
}

template <class T>
std::optional<T> TableReader::get(std::string_view key, const ValueKind<T>& kind)
{
    const toml::node* node = lookup(key);
    if (node == nullptr) {
        return std::nullopt;
    }
    std::optional<T> value = convert(*node, kind);
    if (!value) {
        wrong_value(key, *node, kind.expected);
    }
    return value;
}

template <class T>
std::optional<std::vector<T>> TableReader::get_array(std::string_view key, const ValueKind<T>& kind)
{
    const toml::node* node = lookup(key);
    if (node == nullptr) {
        return std::nullopt;
    }
    const toml::array* array = node->as_array();
    if (array == nullptr) {
        wrong_value(key, *node, "an array, each element " + kind.expected);
        return std::nullopt;
    }
    std::vector<T> values;
    bool all_good = true;
    for (std::size_t i = 0; i < array->size(); ++i) {
        std::optional<T> value = convert((*array)[i], kind);
        if (!value) {
            wrong_element(key, i, (*array)[i], kind.expected);
            all_good = false;
        } else {
            values.push_back(std::move(*value));
        }
    }
    if (!all_good) {
        return std::nullopt;
    }
    return values;
}

template <class T>
std::optional<T> SettingSources::value(std::string_view flag, const std::string& text, const ValueKind<T>& kind) const
{
    std::optional<T> result;
    if (file_ != nullptr) {
        result = file_->get(config_key(flag), kind);
    }
    if (given(flag)) {
        result = parse_flag_value(flag, text, kind, *errors_);
    }
    return result;
}

} // namespace minisync
