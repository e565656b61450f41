"""Words, phrases and voices of the synthetic Speech Commands-style data set, and the held-out split."""
from __future__ import annotations

# The 35 Speech Commands v2 labels in the official class-index order (specs/lmuformer.md).
LABELS = [
    'backward', 'bed', 'bird', 'cat', 'dog', 'down', 'eight', 'five', 'follow', 'forward', 'four', 'go',
    'happy', 'house', 'learn', 'left', 'marvin', 'nine', 'no', 'off', 'on', 'one', 'right', 'seven',
    'sheila', 'six', 'stop', 'three', 'tree', 'two', 'up', 'visual', 'wow', 'yes', 'zero',
]

# What the synthesizers are asked to say for a label (spelling tweaks so each engine says the word).
SPOKEN = {'sheila': 'sheila', 'marvin': 'marvin', 'wow': 'wow'}

# Non-keywords. Homophones of keywords (to, too, for, fore, won, know, write, ate, ...) are left out:
# no acoustic model can tell them apart. Many are chosen to sound close to a keyword.
NEGATIVE_WORDS = [
    # close to keywords
    'yet', 'yeah', 'yellow', 'less', 'mess', 'yesterday', 'top', 'stock', 'step', 'store', 'story', 'goal', 'gold',
    'going', 'goat', 'now', 'new', 'nose', 'note', 'cow', 'how', 'owl', 'bat', 'bad', 'bag', 'bet', 'bid', 'bread',
    'bud', 'burn', 'word', 'third', 'heard', 'cut', 'cap', 'catch', 'kit', 'dot', 'dug', 'dock', 'doll', 'town',
    'gown', 'sound', 'doubt', 'eighty', 'eighteen', 'late', 'gate', 'fight', 'fine', 'fire', 'hive', 'drive', 'life',
    'fellow', 'hollow', 'swallow', 'foreword', 'forest', 'forty', 'fourteen', 'floor', 'door', 'more', 'pour', 'glow',
    'grow', 'show', 'happen', 'hoppy', 'hobby', 'puppy', 'horse', 'mouse', 'how is', 'louse', 'learned', 'lean',
    'earn', 'turn', 'lift', 'loft', 'lefty', 'laugh', 'martin', 'marble', 'carving', 'mine', 'nice', 'night', 'line',
    'knee', 'nail', 'oh', 'awful', 'often', 'of', 'own', 'an', 'in', 'wan', 'once', 'ride', 'bright', 'light', 'night',
    'seventy', 'heaven', 'several', 'sheet', 'shield', 'sheep', 'shelf', 'sick', 'sticks', 'sits', 'stuff', 'stomp',
    'stopper', 'free', 'through', 'throw', 'tea', 'trees', 'true', 'tune', 'tube', 'cup', 'pup', 'op', 'uh', 'usual',
    'visit', 'vision', 'virtual', 'wall', 'woe', 'vow', 'west', 'yam', 'zebra', 'hero', 'zoo', 'zip', 'bedroom',
    'birthday', 'catalog', 'dogma', 'downtown', 'seventeen', 'nineteen', 'sixty', 'thirty', 'twenty',
    # everyday words and commands that are not keywords
    'hello', 'okay', 'please', 'thanks', 'light', 'lamp', 'music', 'play', 'pause', 'volume', 'kitchen', 'window',
    'water', 'coffee', 'morning', 'evening', 'today', 'tomorrow', 'weather', 'computer', 'phone', 'table', 'chair',
    'garden', 'car', 'money', 'paper', 'number', 'system', 'people', 'little', 'great', 'good', 'very', 'really',
    'maybe', 'never', 'always', 'something', 'nothing', 'about', 'because', 'what', 'where', 'when', 'which', 'there',
    'here', 'they', 'this', 'that', 'with', 'from', 'have', 'would', 'could', 'should', 'the', 'and', 'a', 'is',
    'it', 'was', 'are', 'but', 'not', 'all', 'we', 'you', 'he', 'she', 'me', 'my', 'your', 'open', 'close', 'start',
    'begin', 'finish', 'again', 'alarm', 'timer', 'minute', 'hour', 'second', 'hundred', 'thousand', 'ten', 'eleven',
    'twelve', 'red', 'green', 'blue', 'black', 'white', 'orange', 'apple', 'banana', 'animal', 'monkey', 'rabbit',
    'tiger', 'elephant', 'river', 'mountain', 'city', 'country', 'family', 'mother', 'father', 'brother', 'sister',
    'child', 'school', 'teacher', 'doctor', 'office', 'station', 'message', 'question', 'answer', 'problem', 'idea',
]
NEGATIVE_WORDS = sorted(set(NEGATIVE_WORDS))

# Every 5th negative word (sorted order) is held out: test negatives include words never trained on.
HELDOUT_NEGATIVE_WORDS = NEGATIVE_WORDS[2::5]
TRAIN_NEGATIVE_WORDS = [w for w in NEGATIVE_WORDS if w not in set(HELDOUT_NEGATIVE_WORDS)]

# Carrier words and short phrases spoken before/after a keyword (never contain a keyword).
CARRIERS_BEFORE = ['please', 'okay', 'now', 'say', 'I said', 'and then', 'hey', 'the word is', 'just', 'can you',
                   'let us', 'then', 'computer', 'so', 'well']
CARRIERS_AFTER = ['please', 'now', 'again', 'then', 'thanks', 'okay', 'right away', 'for me', 'and', 'is it',
                  'already', 'today', 'I think', 'quickly']

# Voices. espeak-ng voices are an accent (language file) plus a variant (timbre file in voices/!v).
ESPEAK_ACCENTS = ['en-us', 'en', 'en-gb-scotland', 'en-gb-x-rp', 'en-gb-x-gbclan', 'en-us-nyc', 'en-gb-x-gbcwmd',
                  'en-029']
ESPEAK_VARIANTS = [
    'Alex', 'Alicia', 'Andrea', 'Andy', 'Annie', 'AnxiousAndy', 'Demonic', 'Denis', 'Diogo', 'Gene', 'Gene2',
    'Henrique', 'Hugo', 'Jacky', 'Lee', 'Marco', 'Mario', 'Michael', 'Mike', 'Nguyen', 'RicishayMax',
    'RicishayMax2', 'RicishayMax3', 'Storm', 'Tweaky', 'UniRobot', 'adam', 'anika', 'anikaRobot', 'announcer',
    'antonio', 'aunty', 'belinda', 'benjamin', 'boris', 'caleb', 'croak', 'david', 'ed', 'edward', 'edward2', 'f1',
    'f2', 'f3', 'f4', 'f5', 'fast', 'grandma', 'grandpa', 'gustave', 'iven', 'iven2', 'iven3', 'iven4', 'john',
    'kaukovalta', 'klatt', 'klatt2', 'klatt3', 'klatt4', 'klatt5', 'klatt6', 'linda', 'm1', 'm2', 'm3', 'm4', 'm5',
    'm6', 'm7', 'm8', 'marcelo', 'max', 'michel', 'miguel', 'norbert', 'pablo', 'paul', 'pedro', 'quincy', 'rob',
    'robert', 'robosoft', 'robosoft2', 'robosoft3', 'robosoft4', 'robosoft5', 'robosoft6', 'robosoft7',
    'robosoft8', 'sandro', 'shelby', 'steph', 'steph2', 'steph3', 'travis', 'victor', 'whisper', 'whisperf', 'zac',
    '',  # the accent's own default voice
]
FLITE_VOICES = ['kal', 'kal16', 'awb', 'rms', 'slt']
FESTIVAL_VOICES = ['kal_diphone', 'ked_diphone', 'cmu_us_slt_arctic_hts']

# Held out (never trained on): two espeak-ng accents, a dozen espeak-ng variants (on every accent),
# one flite voice and one festival voice.
HELDOUT_ESPEAK_ACCENTS = {'en-029', 'en-gb-x-gbcwmd'}
HELDOUT_ESPEAK_VARIANTS = {'f4', 'm7', 'klatt3', 'Annie', 'edward2', 'iven3', 'steph2', 'travis', 'linda', 'robert',
                           'Andrea', 'john'}
HELDOUT_FLITE = {'rms'}
HELDOUT_FESTIVAL = {'ked_diphone'}


# Validation voices (model selection and threshold calibration; never trained on, never the test
# voices): six espeak-ng variants of the training accents and the 12th configuration (rate/pitch
# setting) of every training flite and festival voice.
VALIDATION_ESPEAK_VARIANTS = {'Nguyen', 'klatt6', 'Gene2', 'm3', 'f1', 'david'}


def is_validation(e: dict) -> bool:
    """A training-pool base utterance whose voice is kept for validation."""
    if e['heldout']:
        return False
    if e['synth'] == 'espeak-ng':
        return e.get('variant', '') in VALIDATION_ESPEAK_VARIANTS
    return e['cfg'].endswith('-011')


def split_of(e: dict) -> str:
    """'test' (held-out voices), 'val' (validation voices) or 'train'."""
    return 'test' if e['heldout'] else 'val' if is_validation(e) else 'train'


def is_heldout_voice(synth: str, voice: str, variant: str = '') -> bool:
    if synth == 'espeak-ng':
        return voice in HELDOUT_ESPEAK_ACCENTS or variant in HELDOUT_ESPEAK_VARIANTS
    if synth == 'flite':
        return voice in HELDOUT_FLITE
    if synth == 'festival':
        return voice in HELDOUT_FESTIVAL
    raise ValueError(synth)


def voice_group(e: dict) -> str:
    """Reporting group of a base utterance's voice (held-out groups name why they are held out)."""
    if e['synth'] == 'espeak-ng':
        if not e['heldout']:
            return 'espeak-ng'
        return 'espeak-ng heldout-accent' if e['voice'] in HELDOUT_ESPEAK_ACCENTS else 'espeak-ng heldout-variant'
    return f"{e['synth']} {e['voice']}"
