// Llama 3.x chat templates (chat_template.h's kLlama3), kept apart from the other families.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "tokenizer/chat_template.h"

namespace gorae::tokenizer {

// Llama 3's message rule ("<|start_header_id|>{role}<|end_header_id|>\n\n{content|trim}<|eot_id|>"),
// recognised by structure like ChatML: Meta's 3.0, 3.1, 3.2 and 3.3 templates (and GGUF copies)
// differ around it.
bool IsLlama3Template(std::string_view jinja);

// Renders as the template does. 3.1 and later open with a system block ("Cutting Knowledge
// Date: December 2023\nToday Date: {date}\n\n{system}"), dated by the template's default
// date_string or, where it calls strftime_now (3.2), today; tools go into the first user
// message as the template writes them (tojson(indent=4)), a past call as
// {"name": ..., "parameters": {...}} (one per turn: the template refuses more), a tool result
// as an ipython turn with the content as tojson writes a string.
Result<std::string> RenderLlama3(const std::vector<ChatMessage>& messages, bool add_generation_prompt,
                                 std::string_view bos_token, std::string_view jinja,
                                 const std::vector<std::string>& tools);

}  // namespace gorae::tokenizer
