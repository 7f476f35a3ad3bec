// A move within a folder applied on the server: RENAME, answered by DONE or ERROR (NOT_FOUND: nothing at
// the old path; CONFLICT: something in the way; BUSY: another connection holds a path of it). What each
// answer leads to is OutcomeJudge's (a retry with backoff, or RenameFallback). States as OneAnswerRequest
// (request.h): Sent -> Answered.
#pragma once

#include "request.h"

#include <string>

namespace minisync::agent {

class RenameRequest final : public OneAnswerRequest {
public:
    RenameRequest(FrameSink& sink, std::uint32_t id, const std::string& folder, const std::string& from,
                  const std::string& to);
};

} // namespace minisync::agent
