"""Writes testdata/chat/glm4_chat_golden.json: GLM-4 conversations rendered
the way transformers' apply_chat_template renders them (Jinja2 with
trim_blocks, lstrip_blocks, loop controls, tojson = json.dumps(ensure_ascii=
False)) and their token ids under the real GLM-4 tokenizer.model, computed
by a plain rank BPE written here (independent of glmq's). The tests
(runtime/tokenizer/chat_golden_test.cc) hold glmq's Jinja subset and chat
encoder to these files. Needs jinja2 and regex; reads ../shared (read-only).

    python3 scripts/gen_chat_golden.py ../shared testdata/chat/glm4_chat_golden.json
"""
import base64, json, sys

import jinja2, jinja2.ext, regex
from jinja2.sandbox import ImmutableSandboxedEnvironment

shared, out_path = sys.argv[1], sys.argv[2]
tokdir = shared + "/reference/tokenizer/glm-4"


def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
    return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators,
                      sort_keys=sort_keys)


env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True,
                                    extensions=[jinja2.ext.loopcontrols])
env.filters["tojson"] = tojson

ranks = {}
for line in open(tokdir + "/tokenizer.model", "rb"):
    if line.strip():
        tok, rank = line.split()
        ranks[base64.b64decode(tok)] = int(rank)
vectors = json.load(open(tokdir + "/test_vectors.json"))
pattern = regex.compile(vectors["pretokenizer_regex"])
config = json.load(open(tokdir + "/glm-4-9b-chat/tokenizer_config.json"))
specials = {v["content"]: int(k) for k, v in config["added_tokens_decoder"].items()}


def bpe(piece):
    parts = [bytes([b]) for b in piece]
    while len(parts) > 1:
        best = min(range(len(parts) - 1), key=lambda i: ranks.get(parts[i] + parts[i + 1], 1 << 30))
        if parts[best] + parts[best + 1] not in ranks:
            break
        parts[best:best + 2] = [parts[best] + parts[best + 1]]
    return [ranks[p] for p in parts]


def encode(text):
    ids = []
    split = regex.compile("(" + "|".join(regex.escape(s) for s in
                                          sorted(specials, key=len, reverse=True)) + ")")
    for chunk in split.split(text):
        if chunk in specials:
            ids.append(specials[chunk])
        elif chunk:
            for piece in pattern.findall(chunk):
                ids += bpe(piece.encode("utf-8"))
    return ids


def template(name):
    if name.startswith("hf:"):
        path = shared + "/fixtures/models/" + name[3:] + "/tokenizer_config.json"
    else:
        path = tokdir + "/" + name + "/tokenizer_config.json"
    return json.load(open(path)).get("chat_template")


WEATHER = {"type": "function", "function": {
    "name": "get_weather", "description": "查询某个城市的天气 (weather of a city)",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}},
                   "required": ["city"]}}}
SYSTEM = {"role": "system", "content": "You are a helpful assistant. 请用中文回答。"}
USER1 = {"role": "user", "content": "Hello, who are you?"}
ASSISTANT1 = {"role": "assistant", "content": "I am GLM-4, an AI assistant. 你好！"}
USER2 = {"role": "user", "content": "What's 2 + 2?\nAnswer briefly."}
conversations = {
    "no_system": [USER1],
    "system_user": [SYSTEM, USER1],
    "system_user_assistant_user": [SYSTEM, USER1, ASSISTANT1, USER2],
    "tool_observation": [
        {"role": "system", "content": "", "tools": [WEATHER]},
        {"role": "user", "content": "北京今天天气怎么样？"},
        {"role": "assistant", "metadata": "get_weather", "content": "{\"city\": \"北京\"}"},
        {"role": "observation", "content": "{\"city\": \"北京\", \"temperature\": 21.5, \"sky\": \"晴\"}"}],
}
cases = []
for tpl_name in ["glm-4-9b-chat", "glm-4-9b-chat-1m", "glm-4-9b", "hf:glm4-tiny-chat-hf",
                 "hf:glm4-tiny-chat"]:
    for conv_name, messages in conversations.items():
        if tpl_name == "glm-4-9b" and conv_name == "tool_observation":
            continue  # the default template refuses tools (no tool prompt of its own)
        source = template(tpl_name)
        if source is None:  # glm-4-9b: glmq renders GLM-4's format; compare with -chat's
            source = template("glm-4-9b-chat")
        text = env.from_string(source).render(messages=messages, tools=None,
                                              add_generation_prompt=True,
                                              eos_token="<|endoftext|>",
                                              pad_token="<|endoftext|>")
        cases.append({"name": tpl_name + "/" + conv_name, "config": tpl_name,
                      "messages": messages, "text": text, "ids": encode(text)})
json.dump({"_source": __doc__.strip().split("\n\n")[0], "cases": cases},
          open(out_path, "w"), ensure_ascii=False, indent=1)
print(len(cases), "cases")
