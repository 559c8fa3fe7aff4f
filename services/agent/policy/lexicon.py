"""The built-in sentiment lexicon: valences on VADER's scale of -4 (most negative) to +4."""

from __future__ import annotations

WORDS: dict[str, float] = {
    # negative
    "angry": -3.0, "furious": -3.3, "livid": -3.2, "outraged": -3.2, "mad": -2.2, "annoyed": -2.0,
    "annoying": -2.0, "irritated": -2.0, "irritating": -2.0, "frustrated": -2.2, "frustrating": -2.2,
    "frustration": -2.1, "upset": -2.2, "disappointed": -2.2, "disappointing": -2.2,
    "disappointment": -2.2, "unhappy": -2.2, "sad": -1.8, "terrible": -3.0, "horrible": -3.0,
    "awful": -3.0, "dreadful": -2.9, "atrocious": -3.2, "appalling": -3.1, "pathetic": -2.9,
    "ridiculous": -2.3, "absurd": -2.0, "unacceptable": -2.8, "outrageous": -2.8, "disgusting": -3.1,
    "disgraceful": -3.0, "shameful": -2.6, "worst": -3.2, "worse": -2.1, "bad": -2.5, "poor": -2.0,
    "useless": -2.7, "worthless": -2.9, "garbage": -2.8, "trash": -2.5, "rubbish": -2.5, "junk": -2.3,
    "crap": -2.4, "crappy": -2.5, "sucks": -2.6, "suck": -2.3, "hate": -3.0, "hated": -3.0, "hates": -2.9,
    "loathe": -3.0, "scam": -3.2, "fraud": -3.0, "ripoff": -2.8, "incompetent": -3.0,
    "incompetence": -3.0, "unprofessional": -2.6, "rude": -2.4, "lazy": -1.9, "slow": -1.0,
    "sluggish": -1.2, "buggy": -1.6, "broken": -1.2, "unusable": -2.4, "unreliable": -2.1,
    "confusing": -1.4, "confused": -1.2, "complicated": -0.9, "difficult": -1.0, "fail": -1.2,
    "failed": -1.1, "failing": -1.3, "failure": -1.6, "error": -0.6, "errors": -0.6, "bug": -0.5,
    "bugs": -0.6, "problem": -0.8, "problems": -0.9, "issue": -0.4, "issues": -0.5, "crash": -1.0,
    "crashes": -1.1, "crashing": -1.2, "wrong": -1.4, "lost": -1.0, "nightmare": -3.0, "disaster": -3.1,
    "mess": -1.9, "waste": -2.0, "wasted": -2.1, "annoyance": -1.8, "complaint": -1.5, "complain": -1.6,
    "regret": -2.0, "worried": -1.5, "concerned": -1.0, "afraid": -1.5, "stressed": -1.8,
    "nonsense": -2.2, "stupid": -2.6, "idiot": -3.0, "idiots": -3.0, "dumb": -2.3, "shit": -2.6,
    "shitty": -2.9, "bullshit": -3.0, "fuck": -3.0, "fucked": -3.0, "damn": -1.4, "wtf": -2.5,
    "hopeless": -2.4, "miserable": -2.9, "unbearable": -2.8, "joke": -1.0, "lousy": -2.5,
    # positive
    "happy": 2.7, "glad": 2.0, "pleased": 2.2, "delighted": 3.0, "thrilled": 3.0, "satisfied": 1.9,
    "grateful": 2.6, "thankful": 2.4, "thanks": 1.9, "thank": 1.5, "thx": 1.5, "appreciate": 2.0,
    "appreciated": 2.1, "love": 3.2, "loved": 2.9, "loving": 2.9, "loves": 2.7, "enjoy": 2.2,
    "enjoying": 2.2, "great": 3.1, "good": 1.9, "nice": 1.8, "excellent": 3.2, "amazing": 2.8,
    "awesome": 3.1, "fantastic": 3.3, "wonderful": 3.2, "brilliant": 2.8, "superb": 3.1, "perfect": 2.7,
    "perfectly": 2.4, "outstanding": 3.0, "impressive": 2.5, "impressed": 2.5, "helpful": 2.1,
    "useful": 1.9, "handy": 1.6, "easy": 1.9, "intuitive": 1.9, "simple": 1.0, "smooth": 1.5,
    "fast": 1.3, "quick": 1.2, "quickly": 1.1, "reliable": 1.8, "solid": 1.4, "beautiful": 2.9,
    "best": 3.2, "better": 1.9, "cool": 1.5, "fine": 0.8, "ok": 0.9, "okay": 0.9, "works": 0.8,
    "resolved": 1.6, "fixed": 1.5, "solved": 1.6, "recommend": 1.6, "lovely": 2.8, "kind": 1.5,
    "friendly": 1.9, "responsive": 1.6, "efficient": 1.9, "wow": 2.3, "yay": 2.4, "cheers": 1.6,
    "congrats": 2.4, "terrific": 3.2, "phenomenal": 3.2, "stellar": 3.0, "lifesaver": 2.8,
    "acceptable": 1.2, "pleasant": 2.3, "flawless": 3.0, "seamless": 2.4, "glorious": 3.0,
    # emoticons and emoji
    ":)": 2.0, ":-)": 2.0, ":d": 2.3, ";)": 1.5, "<3": 2.5, ":(": -2.0, ":-(": -2.0, ":'(": -2.2,
    ":/": -1.0, "\U0001F642": 1.6, "\U0001F60A": 2.2, "\U0001F600": 2.2, "\U0001F603": 2.3,
    "\U0001F604": 2.3, "\U0001F60D": 3.0, "\U0001F44D": 1.8, "\U0001F64F": 1.5, "\U0001F389": 2.4,
    "\u2764": 2.7, "\U0001F61E": -2.0, "\U0001F61F": -1.8, "\U0001F641": -1.8, "\u2639": -2.0,
    "\U0001F622": -2.2, "\U0001F62D": -2.5, "\U0001F620": -2.6, "\U0001F621": -3.0, "\U0001F92C": -3.3,
    "\U0001F44E": -2.0, "\U0001F4A9": -2.0, "\U0001F624": -2.2,
}

# Multi-word entries, matched before single words; their own negators are part of the phrase.
PHRASES: dict[tuple[str, ...], float] = {
    ("waste", "of", "time"): -2.8, ("waste", "of", "money"): -2.9, ("rip", "off"): -2.8,
    ("ripped", "off"): -2.8, ("fed", "up"): -2.5, ("sick", "of"): -2.3, ("tired", "of"): -1.8,
    ("had", "enough"): -2.2, ("thanks", "for", "nothing"): -2.8, ("last", "straw"): -2.6,
    ("never", "again"): -2.3, ("piece", "of", "crap"): -3.0, ("piece", "of", "junk"): -2.8,
    ("not", "acceptable"): -2.6, ("not", "working"): -1.2, ("doesn't", "work"): -1.4,
    ("does", "not", "work"): -1.4, ("don't", "work"): -1.4, ("isn't", "working"): -1.3,
    ("stopped", "working"): -1.5, ("no", "response"): -1.8, ("no", "reply"): -1.8,
    ("still", "waiting"): -1.8, ("still", "broken"): -2.2, ("still", "not", "fixed"): -2.4,
    ("thank", "you"): 2.0, ("much", "appreciated"): 2.4, ("well", "done"): 2.6, ("great", "job"): 3.0,
    ("works", "great"): 2.8, ("life", "saver"): 2.8, ("game", "changer"): 2.4, ("top", "notch"): 2.8,
    ("spot", "on"): 2.2, ("exceeded", "expectations"): 2.8, ("no", "problem"): 1.2,
    ("no", "worries"): 1.2,
}

BOOSTERS: dict[str, float] = {
    "very": 0.293, "really": 0.293, "extremely": 0.293, "so": 0.293, "super": 0.293, "totally": 0.293,
    "absolutely": 0.293, "completely": 0.293, "incredibly": 0.293, "truly": 0.293, "highly": 0.293,
    "utterly": 0.293, "seriously": 0.293, "deeply": 0.293, "hugely": 0.293, "insanely": 0.293,
    "fucking": 0.293, "most": 0.293, "such": 0.293, "entirely": 0.293, "exceptionally": 0.293,
    "slightly": -0.293, "somewhat": -0.293, "kinda": -0.293, "sorta": -0.293, "marginally": -0.293,
    "partly": -0.293, "fairly": -0.2, "barely": -0.293, "bit": -0.2,
}

NEGATORS: frozenset[str] = frozenset({
    "not", "no", "never", "none", "nobody", "nothing", "neither", "nor", "cannot", "without", "hardly",
    "dont", "doesnt", "didnt", "isnt", "arent", "wasnt", "werent", "wont", "wouldnt", "cant", "couldnt",
    "shouldnt", "havent", "hasnt", "hadnt", "aint",
})
