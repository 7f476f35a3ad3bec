// stderr logger with journal-aware formatting and the libevent log bridge.
#include "logging.h"

#include <event2/event.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <cstdlib>

namespace minisync {
namespace {

void log_from_libevent(int severity, const char* message)
{
    switch (severity) {
    case EVENT_LOG_DEBUG: SPDLOG_DEBUG("libevent: {}", message); break;
    case EVENT_LOG_MSG: SPDLOG_INFO("libevent: {}", message); break;
    case EVENT_LOG_WARN: SPDLOG_WARN("libevent: {}", message); break;
    default: SPDLOG_ERROR("libevent: {}", message); break;
    }
}

} // namespace

std::optional<spdlog::level::level_enum> parse_log_level(std::string_view name)
{
    if (name == "trace") return spdlog::level::trace;
    if (name == "debug") return spdlog::level::debug;
    if (name == "info") return spdlog::level::info;
    if (name == "warn") return spdlog::level::warn;
    if (name == "error") return spdlog::level::err;
    return std::nullopt;
}

void init_logging(spdlog::level::level_enum level)
{
    auto logger = spdlog::stderr_logger_mt("minisync");
    const bool journal = std::getenv("JOURNAL_STREAM") != nullptr;
    logger->set_pattern(journal ? "%l: %v" : "%Y-%m-%dT%H:%M:%S.%e %l: %v");
    logger->set_level(level);
    logger->flush_on(spdlog::level::info);
    spdlog::set_default_logger(logger);
    event_set_log_callback(&log_from_libevent);
}

} // namespace minisync
