"""Which language a short text is written in: enough to analyse English and set the rest aside.

The method is the *short-word* (function-word) profile of Grefenstette (1995), "Comparing two
language identification schemes using trigrams and short words", Proc. JADT 1995: every language
has a few hundred very frequent words (articles, pronouns, prepositions, auxiliaries) and a shop's
everyday vocabulary; counting which list a text's words fall in identifies the language of all
but the shortest texts. It is light (a set look-up per word, no model file, nothing downloaded)
and transparent. Texts in a non-Latin script are named by their script (Japanese kana, Chinese
ideographs, Korean, Cyrillic, Arabic, ...).

English evidence also counts words of VADER's own lexicon at half weight (a text made only of
sentiment words, "Awesome!!", is English for VADER); a text with no evidence at all is
``"und"`` (undetermined) and, like every language but English, **not analysed** rather than
guessed. Accuracy on the hand-labelled texts in ``tests/text`` is reported in ``docs/text.md``.

Examples
--------
>>> detect_languages(["Great coffee, will buy again!", "Très bon café, je recommande.",
...                   "Leider war die Packung beschädigt.", "とても美味しい", "!!!"])
['en', 'fr', 'de', 'ja', 'und']
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from functools import lru_cache

#: The languages sentiment and topics are computed for.
SUPPORTED = ("en",)

_WORD = re.compile(r"[^\W\d_]+(?:'[^\W\d_]+)?")

# Frequent function words and everyday shop words per language (lower case, accents kept).
_WORDS: dict[str, str] = {
    "fr": """le la les un une des du de d l au aux et ou mais donc car ni que qui quoi dont où ce cet cette ces
        mon ma mes ton ta tes son sa ses notre nos votre vos leur leurs je j tu il elle on nous vous ils elles
        me m te t se s lui y en ne n pas plus très trop bien bon bonne bons mauvais mauvaise est sont était
        été être avoir ai as a avons avez ont avait suis es sommes êtes c ç qu pour par avec sans sur sous
        dans chez entre vers après avant depuis pendant toujours jamais encore déjà aussi comme tout tous
        toute toutes rien merci bonjour bonsoir svp s'il vous plaît commande commandé livraison livré colis
        café thé produit produits qualité prix rapide rapidement reçu arrivé arrivée cassé déçu déçue ravi
        ravie recommande je recommande moulin sachet goût amer délicieux excellent parfait abonnement
        remboursement retour voudrais pouvez pouvez-vous vérifier suivi annuler plaît terrible""",
    "de": """der die das den dem des ein eine einer eines einem einen und oder aber doch denn dass weil wenn als
        ob wie was wer wo ich du er sie es wir ihr mich dich sich mir dir uns euch mein meine meinen meiner
        dein deine sein seine ihre unser nicht kein keine keinen sehr zu zum zur im in am an auf aus bei mit
        nach von vor für über unter durch gegen ohne ist sind war waren bin bist hat habe haben hatte wird
        werden wurde wurden kann können möchte bitte danke vielen dank hallo guten tag leider schon noch
        immer nie auch nur gut schlecht schnell lieferung geliefert bestellung bestellt paket kaffee tee
        qualität preis teuer billig lecker kaputt beschädigt angekommen gerne wieder empfehlen mühle packung
        rechnung schicken schmeckt alles bestens toll tollen service""",
    "es": """el la los las un una unos unas lo al del de y o pero porque que qué quien cuando como donde yo tú él
        ella nosotros vosotros ellos ellas me te se nos os le les mi mis tu tus su sus nuestro muy más menos
        no sí ya también siempre nunca todo toda todos bien mal bueno buena buen malo mala es son era fue
        está están estaba ser estar he ha han hay había tengo tiene tienen para por con sin sobre entre
        hasta desde en gracias hola por favor pedido envío entrega paquete llegó llegado café té producto
        calidad precio rápido roto rota faltaba encanta gustó quisiera cambiar dirección mejor probado
        relación tardó demasiado sabe quemado bolsa""",
    "it": """il lo la i gli le un uno una di a da in con su per tra fra e ed o ma però perché che chi cui come
        dove quando io tu lui lei noi voi loro mi ti si ci vi mio mia miei mie tuo suo sua nostro non sì più
        molto troppo anche ancora sempre mai già tutto tutti bene male buono buona ottimo ottima è sono era
        erano stato essere ho hai ha abbiamo avete hanno del della dei delle nel nella al alla grazie
        buongiorno ciao ordine spedizione consegna pacco caffè tè prodotto qualità prezzo veloce rotto
        consigliato consiglio pessimo acquisto ricevuto ancora bollitore perde acqua buonissimo""",
    "pt": """o a os as um uma uns umas de do da dos das em no na nos nas por pelo pela para com sem e ou mas
        porque que quem quando como onde eu tu ele ela nós vós eles elas me te se nos lhe meu minha seu sua
        não sim muito mais menos também sempre nunca já tudo bem mal bom boa é são era foi está estão ser
        estar tenho tem têm obrigado obrigada olá pedido entrega encomenda pacote chegou café chá produto
        qualidade preço rápido quebrado moedor veio quero devolver embalado adorei recomendo""",
    "nl": """de het een en of maar want dat die dit deze wie wat waar wanneer hoe ik jij je hij zij ze wij we
        jullie mij me mijn jouw zijn haar ons onze niet geen wel zeer erg heel te ook nog al altijd nooit
        is zijn was waren ben bent heb hebt heeft hebben had kan kunt kunnen wil bij met van voor naar op
        in uit over door tegen zonder goed slecht snel bedankt dank hallo alstublieft bestelling besteld
        pakket levering geleverd koffie thee kwaliteit prijs duur kapot aangekomen nagaan steeds
        heerlijke heerlijk echt aanrader waterkoker lekt teleurgesteld prima goede""",
}

# Function words of English (scikit-learn's list, a classic stop-word list) plus shop words.
_EN_EXTRA = """i'm i've i'd i'll don't doesn't didn't can't won't isn't wasn't haven't hasn't it's that's
    order ordered orders delivery shipping shipped arrived package parcel coffee tea beans bag bags roast
    grinder kettle mug product quality price refund return subscription thanks thank please hi hello
    great good bad love loved awful terrible excellent really just got get still again"""

_SCRIPTS = (  # (unicode name prefix, language or script code)
    ("HIRAGANA", "ja"), ("KATAKANA", "ja"), ("CJK", "zh"), ("HANGUL", "ko"), ("CYRILLIC", "ru"),
    ("ARABIC", "ar"), ("HEBREW", "he"), ("GREEK", "el"), ("THAI", "th"), ("DEVANAGARI", "hi"),
)


@lru_cache(maxsize=1)
def _lookup() -> tuple[tuple[str, ...], dict[str, tuple]]:
    """Languages, and for every known word the points it gives to each language (one dict look-up
    per word)."""
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    words = {lang: frozenset(text.split()) for lang, text in _WORDS.items()}
    words["en"] = frozenset(ENGLISH_STOP_WORDS) | frozenset(_EN_EXTRA.split())
    langs = tuple(sorted(words))
    en = langs.index("en")
    table: dict[str, tuple] = {}
    for word in set().union(*words.values()) | _vader_words():
        points = [(i, 1.0) for i, lang in enumerate(langs) if word in words[lang]]
        if word in _vader_words() and word not in words["en"]:
            points.append((en, 0.5))
        table[word] = tuple(points)
    return langs, table


@lru_cache(maxsize=1)
def _vader_words() -> frozenset[str]:
    from regulars.text.sentiment import vader_lexicon

    return frozenset(w for w in vader_lexicon() if w.isalpha())


def _script(text: str) -> str | None:
    """The language of a text written mostly outside the Latin script, else None."""
    latin = other = 0
    found: dict[str, int] = {}
    for ch in text:
        if not ch.isalpha():
            continue
        if ch.isascii():
            latin += 1
            continue
        name = unicodedata.name(ch, "")
        if name.startswith("LATIN"):
            latin += 1
            continue
        other += 1
        for prefix, code in _SCRIPTS:
            if name.startswith(prefix):
                found[code] = found.get(code, 0) + 1
                break
    if other <= latin:
        return None
    if "ja" in found:  # Japanese mixes kana with ideographs
        return "ja"
    return max(found, key=found.get) if found else "und"


def detect_language(text: str | None) -> str:
    """The ISO 639-1 code of one text's language, ``"und"`` when there is no evidence.

    >>> detect_language("Not bad at all"), detect_language("Muy buena relación calidad precio")
    ('en', 'es')
    """
    if not isinstance(text, str) or not text:
        return "und"
    if not text.isascii():
        script = _script(text)
        if script is not None:
            return script
    langs, table = _lookup()
    tokens = _WORD.findall(text.lower())
    if not tokens:
        return "und"
    scores = [0.0] * len(langs)
    for tok in tokens:
        for i, w in table.get(tok, ()):
            scores[i] += w
    top = max(scores)
    if top == 0:
        return "und"
    ties = [lang for lang, s in zip(langs, scores) if s == top]
    if len(ties) > 1:
        return "en" if "en" in ties and not _accented(text) else "und"
    return ties[0]


def _accented(text: str) -> bool:
    return any(not ch.isascii() and ch.isalpha() for ch in text)


def detect_languages(texts: Iterable[str | None]) -> list[str]:
    """:func:`detect_language` of each text."""
    return [detect_language(t) for t in texts]
