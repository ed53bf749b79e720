"""Word tables: units, numbers, filler and command words in English, romanised Nepali and Devanagari.

All tables are keyed by `word_key` (single words) or by the concatenated keys of a phrase
(multi-word phrases such as "thik cha"), built once at import time.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal

from parsing.payment_methods import METHODS, SPELLINGS
from parsing.text import phrase_keys, word_key
from parsing.units import DEFAULT_UNITS

UNIT_CODES = tuple(u.code for u in DEFAULT_UNITS)


def _keys(words: Iterable[str] | str) -> frozenset[str]:
    """Word keys of a space-separated word list (or of an iterable of phrases)."""
    out: set[str] = set()
    for w in words.split() if isinstance(words, str) else words:
        out.add("".join(phrase_keys(w)))
    out.discard("")
    return frozenset(out)


def _table(spec: dict[str, str]) -> dict[str, str]:
    """{"code": "spelling spelling ..."} -> {word_key: code}."""
    out: dict[str, str] = {}
    for code, words in spec.items():
        for w in words.split():
            out[word_key(w)] = code
    return out


# --- units -------------------------------------------------------------------------------------
# Built from the unit table (parsing/units.py, the rows migration 0010 seeds).
UNIT_WORDS: dict[str, str] = {word_key(w): u.code for u in DEFAULT_UNITS for w in u.spellings}
# Short or common-word spellings that only count as a unit right after a number ("5 l", "2 ta").
WEAK_UNITS: frozenset[str] = _keys("l lt lit g gr ta टा pc pis nos tre kes case box bag bags pack lit mana manas")

# --- numbers -----------------------------------------------------------------------------------
_NUM_SPEC: dict[int | str, str] = {
    1: "one ek ekta एक",
    2: "two dui duee dwi दुई दुइ",
    3: "three tin teen तीन तिन",
    4: "four char chaar चार",
    5: "five panch paanch pach paach पाँच पांच",
    6: "six chha chhe छ छः",
    7: "seven saat sat सात",
    8: "eight aath ath आठ",
    9: "nine nau nou नौ",
    10: "ten das dus dash दश दस",
    11: "eleven eghara egara एघार",
    12: "twelve bahra barha barah बाह्र बाहृ",
    13: "thirteen terha tehra तेह्र",
    14: "fourteen chaudha chauda चौध",
    15: "fifteen pandhra pandra पन्ध्र",
    16: "sixteen sorha sohra सोह्र",
    17: "seventeen satra सत्र",
    18: "eighteen athara athaara अठार",
    19: "nineteen unnais उन्नाइस",
    20: "twenty bis bees biss बीस बिस",
    25: "pachis pachchis पच्चीस",
    30: "thirty tis tees तीस",
    40: "forty fourty chalis chaalis चालीस",
    50: "fifty pachas pachaas पचास",
    60: "sixty",
    70: "seventy",
    80: "eighty",
    90: "ninety",
    "0.5": "half aadha adha aadhaa adhaa आधा",
    "1.5": "dedh derh dedhh dhedh deedh डेढ डेढ़",
    "2.5": "adhai arhai aadhai adhaai dhai dhaai arai अढाई ढाई अढाइ",
    "0.25": "quarter pau पाउ",
}
NUMBER_WORDS: dict[str, Decimal] = {}
for _value, _words in _NUM_SPEC.items():
    for _w in _words.split():
        NUMBER_WORDS[word_key(_w)] = Decimal(str(_value))
HALF_WORDS: frozenset[str] = _keys("half aadha adha aadhaa adhaa आधा")
# Number words that are also everyday words: a quantity only when a unit or product follows.
AMBIGUOUS_NUMBER_WORDS: frozenset[str] = _keys("tin chha sat ath nau das dash bis pau छ पाउ one")
HUNDRED_WORDS: frozenset[str] = _keys("hundred saya say sae सय")
THOUSAND_WORDS: frozenset[str] = _keys("thousand hajar hazar hajaar हजार")
LAKH_WORDS: frozenset[str] = _keys("lakh lakhs lac laakh लाख")
# sawa 2 = 2.25, sadhe 2 = 2.5, paune 2 = 1.75
MODIFIER_WORDS: dict[str, Decimal] = {
    **{k: Decimal("0.25") for k in _keys("sawa sava सवा")},
    **{k: Decimal("0.5") for k in _keys("sadhe saadhe sade saade sarhe साढे साढ़े")},
    **{k: Decimal("-0.25") for k in _keys("paune pauney पौने")},
}
# "duita" = dui + ta, "दुईवटा" = दुई + वटा, "euta"/"एउटा" = one piece
COUNT_SUFFIXES: tuple[str, ...] = tuple(
    sorted(
        {word_key(s) for s in ("wata", "vata", "ota", "oota", "ta", "वटा", "ओटा", "टा", "बटा")},
        key=len,
        reverse=True,
    )
)
ONE_PIECE_WORDS: frozenset[str] = _keys("euta eota yauta euta एउटा एउटै")
MULTIPLY_WORDS: frozenset[str] = _keys(["x", "into"])

# --- structure ---------------------------------------------------------------------------------
SEPARATOR_WORDS: frozenset[str] = _keys("and ra र ani अनि tatha तथा also plus but tara lekin तर")

# Words that carry no product meaning in an order line (greetings, politeness, verbs, particles).
FILLER: frozenset[str] = _keys(
    """
    namaste namaskar namasté hello hi hii hiii hey helo hlo hy good morning evening afternoon jai nepal
    dai daju dajyu didi bhai bahini baini sahuji sahu saathi sathi sir madam maam bro brother dear ji jee
    hajur please pls plz plzz plss pleas kripaya kindly thanks thank thankyou thx ty dhanyabad dhanyawad
    dhanybad dhanyavad send sent give deliver delivery bring need needed want wanted required require
    order orders orderr i we me my our us mero hamro malai hamilai ma hami yo tyo yi ti the a an of for
    to from by with in on at is are am be it this that these those you u can could would will shall do
    did does have has had get got some more aru feri again same usual last time jasto ko ka ki le lai
    bata samma sanga wala wali vala wale ho ni hai la ta ke k kati kun cha chha xa chaa chan chhan hola
    holaa hos hunxa hunchha huncha parcha parchha chaiyo chahiyo chahiye chaiye chaincha chahincha need
    rakhnu rakhdinu rakhidinu lagi lai urgent urgently jaldi chito chhito asap today tomorrow aaja aaj
    bholi voli ahile aile ahilelai now soon immediately please. ok okay okk yes also too ramro fresh quality
    rate price wholesale total sabai sab all only matra just item items saman samaan maal list following
    next week din mahina dokan pasal shop store retail my. nai na there bhaiya hunuhuncha hunuhunchha hunuhunxa
    नमस्ते नमस्कार दाइ दाई दाजु दिदी भाइ बहिनी साहुजी सर जी हजुर कृपया धन्यवाद मलाई हामीलाई मेरो हाम्रो
    को का की ले लाई मा बाट सम्म सँग वाला वाली हो नि है ल त के कति छ छन् होला होस् हुन्छ पर्छ चाहियो चाहिन्छ
    आज भोलि अहिले छिटो अर्डर सामान माल पनि यो त्यो सबै मात्र थप फेरि उही
    """
)
# Verb stems ("pathaunu hola", "pathaidinus", "पठाइदिनुहोस्", "dinuhos", "lyaidinu" ...).
FILLER_PREFIXES: tuple[str, ...] = tuple(
    sorted(_keys(
    """pathau pathai pathay pathae patha pathu dinu dinus diu deu dinuh dinuho chahi chaiy chahiy
    chain chahin lyau lyai lyaa lyaun garnu garid gardi garidi gardinu bhej bhijau pugau hunch
    पठाउ पठाइ पठाए पठा दिनु दिनुस दिनुहो चाहि चाहिन्छ ल्याउ ल्याइ गर्नु गरिदि गर्दि पुर्याउ पुर्‍याउ"""
    ))
)

# --- intents -----------------------------------------------------------------------------------
# Phrase -> label. Labels: intent names, "lang_en"/"lang_ne" (target language), "lang" (the word
# "language" itself), "filler" (politeness that never changes the intent).
_INTENT_SPEC: dict[str, list[str]] = {
    "confirm": [
        "yes", "y", "yess", "yesss", "yeah", "yea", "yep", "yup", "ya", "ok", "okay", "okk", "okey", "oki",
        "k ok", "ho", "hunchha", "huncha", "hunxa", "hunchha ni", "thik cha", "thik chha", "thikcha",
        "thik xa", "theek cha", "thik", "theek", "thick cha", "confirm", "confirmed", "conform", "confrim",
        "confirm garnus", "confirm gara", "sure", "done", "pakka", "la", "la huncha", "la thik cha", "sahi",
        "correct", "right", "go ahead", "proceed", "yes please", "yes confirm", "ok confirm", "agreed",
        "हो", "हुन्छ", "ठिक छ", "ठीक छ", "ठिक", "ठीक", "पक्का", "ल", "ल हुन्छ", "कन्फर्म", "सहि",
        "ho ho", "hajur ho", "hajur huncha", "hajur thik cha", "ok done", "haan", "han", "haa", "ha", "हाँ", "हजुर हुन्छ",
    ],
    "decline": [
        "no", "n", "nope", "nah", "noo", "nooo", "hoina", "hoena", "hoeina", "haina", "hoinaa", "nai",
        "naai", "nahi", "nahin", "pardaina", "chahidaina", "chaidaina", "chaindaina", "chahindaina",
        "hudaina", "hunna", "cancel draft", "discard", "wrong", "galat", "not now", "no thanks",
        "dont send", "don't send", "napathaunus", "napathau", "होइन", "हैन", "नाई", "नाइँ", "नाइ", "चाहिँदैन",
        "चाहिदैन", "पर्दैन", "हुँदैन", "हुन्न", "गलत", "नपठाउनुस्", "no no", "bhayo pardaina", "bas bhayo",
        "pardaina bhayo", "no need", "बस भयो", "naa", "nahh", "changed my mind", "change my mind",
        "mind changed", "विचार बदलियो",
    ],
    "status": [
        "status", "stat", "staus", "statas", "order status", "track", "tracking", "track order", "where",
        "स्थिति", "स्टाटस",
    ],
    "cancel": [
        "cancel", "cancell", "cancle", "cancel order", "order cancel", "radda", "rad", "radda gara",
        "cancel garnus", "cancel gara", "cancel garidinus", "रद्द", "क्यान्सिल", "रद्द गर्नुहोस्",
    ],
    "balance": [
        "balance", "bal", "balence", "hisab", "hisaab", "hisap", "khata", "khaata", "baki", "baaki",
        "bakii", "due", "dues", "udharo", "udhaaro", "udhaar", "statement", "ledger", "outstanding",
        "हिसाब", "बाँकी", "बाकी", "खाता", "उधारो", "ब्यालेन्स",
    ],
    "help": [
        "help", "halp", "hlp", "madat", "maddat", "sahayog", "sahayata", "menu", "commands", "command",
        "info", "how", "how to order", "guide", "k garne", "ke garne", "aba k garne", "के गर्ने", "मद्दत",
        "सहयोग", "सहायता", "मेनु", "help me",
    ],
    "greeting": [
        "namaste", "namaskar", "hi", "hii", "hiii", "hello", "helo", "hlo", "hey", "hy", "good morning",
        "good evening", "good afternoon", "morning", "jai nepal", "k cha", "ke cha", "kasto cha",
        "sanchai", "thanks", "thank you", "thankyou", "thx", "dhanyabad", "dhanyawad", "नमस्ते", "नमस्कार",
        "pranam", "subha prabhat", "shubha prabhat", "suprabhat", "प्रणाम", "शुभ प्रभात", "सुप्रभात",
        "जय नेपाल", "kasto chha", "kasto xa", "k xa", "k chha", "ke chha", "ke xa", "ke cha khabar", "k cha khabar",
        "ram ram", "राम राम", "how are you", "how r u", "कस्तो छ",
        "धन्यवाद", "के छ", "सन्चै", "thanks a lot", "thank you so much", "thank u", "many thanks", "tq",
        "thanks so much", "dhanyabaad", "dhanybad", "धन्यवाद है", "subha din", "shubha din", "शुभ दिन",
        "subha bihani", "shubha bihani", "शुभ बिहानी", "have a nice day",
        "shubha ratri", "subha ratri", "शुभ रात्री", "शुभ रात्रि",
    ],
    "lang_en": [
        "english", "eng", "en", "engl", "inglish", "angreji", "angrezi", "अंग्रेजी", "अङ्ग्रेजी", "इङ्लिस",
    ],
    "lang_ne": ["nepali", "nep", "ne", "np", "nepalii", "नेपाली", "नेपालीमा"],
    "lang": ["lang", "language", "bhasa", "bhasha", "भाषा", "in", "ma", "change", "switch", "मा"],
    "filler": [
        "dai", "daju", "didi", "bhai", "bahini", "sir", "madam", "ji", "please", "pls", "plz", "kripaya",
        "garnus", "garnu", "gara", "garidinus", "garnuhos", "garnuhola", "garidinu", "it", "this", "my",
        "mero", "the", "order", "please.", "yo", "तपाईं", "दाइ", "दाई", "दिदी", "सर", "जी", "कृपया",
        "गर्नुहोस्", "गर्नुस्", "मेरो", "अर्डर", "यो", "the order", "is", "me", "now", "again", "sahuji",
        "बहिनी", "भाइ", "please sir", "bro", "brother", "dear", "ni", "hai", "na", "la", "re",
        "हजुर", "hajur",  # a polite "yes?" / "sir", not a yes to an order (issue 16)
    ],
}
INTENT_PHRASES: dict[str, str] = {}
# Where the words of each phrase meet: "ko k" must not read as "k ok" (both are "kok" run together).
INTENT_PHRASE_CUTS: dict[str, set[tuple[int, ...]]] = {}
for _label, _phrases in _INTENT_SPEC.items():
    for _p in _phrases:
        _pwords = phrase_keys(_p)
        _k = "".join(_pwords)
        if _k and _k not in INTENT_PHRASES:
            INTENT_PHRASES[_k] = _label
        if _k:
            _cuts = tuple(sum(len(w) for w in _pwords[: n + 1]) for n in range(len(_pwords) - 1))
            INTENT_PHRASE_CUTS.setdefault(_k, set()).add(_cuts)
INTENT_PHRASE_MAX = 4

# Keywords that give an intent even inside a longer sentence ("mero hisab kati bhayo?").
BALANCE_WORDS: frozenset[str] = frozenset(k for k, v in INTENT_PHRASES.items() if v == "balance") | _keys(
    "tirnu tirna tirnuparne तिर्नु credit kredit क्रेडिट owe pending"
)
# "baki" is the balance, but also "the rest" ("baki saman bholi pathaunu").
BAKI_WORDS: frozenset[str] = _keys("baki baaki bakii बाँकी बाकी")
STATUS_STRONG: frozenset[str] = _keys("status staus track tracking स्थिति स्टाटस")
STATUS_WEAK: frozenset[str] = _keys(
    """kaha kahaa kahile kaile where when pugyo pugena aayena aaena aaucha aauchha aaunchha aunchha
    aaula bela late dhilo nikalyo niskyo kab aayega arrive arriving arrived dispatched shipped aaucha
    aaipugyo aaipugena aaipugcha aaipugchha aipugyo hidyo hideko reached
    कहाँ कहिले पुग्यो आएन आउँछ आइपुग्छ ढिलो निस्कियो आइपुग्यो हिँड्यो"""
)
# Goods on the way asked about: "mero cement aaipugyo ki nai?" names a product and is still a status question.
ARRIVAL_WORDS: frozenset[str] = _keys(
    """pugyo pugena aayena aaena aaipugyo aaipugena aipugyo hidyo hideko hidena nikalyo niskyo arrive arrived
    arriving reached dispatched shipped पुग्यो आएन आइपुग्यो हिँड्यो निस्कियो"""
)
CANCEL_WORDS: frozenset[str] = _keys("cancel cancell cancle radda रद्द क्यान्सिल")
DRAFT_WORDS: frozenset[str] = _keys("draft drafts ड्राफ्ट")
HELP_WORDS: frozenset[str] = _keys(
    "help halp madat maddat sahayog sahayata menu sikaidinu sikaunu sikaidinus commands मद्दत सहयोग सहायता सिकाइदिनु"
)
HOWTO_WORDS: frozenset[str] = _keys("how kasari कसरी")
ORDER_WORDS: frozenset[str] = _keys(
    "order orders ordar saman samaan maal delivery delivary parcel gaadi gadi अर्डर सामान माल डेलिभरी गाडी"
)
LANG_EN_WORDS: frozenset[str] = frozenset(k for k, v in INTENT_PHRASES.items() if v == "lang_en")
LANG_NE_WORDS: frozenset[str] = frozenset(k for k, v in INTENT_PHRASES.items() if v == "lang_ne")
LANG_CUE_WORDS: frozenset[str] = _keys("lang language bhasa bhasha भाषा ma मा in speak bolnus bolnu reply")

# --- wholesaler commands -------------------------------------------------------------------------
WHOLESALER_COMMANDS: dict[str, str] = {}
for _cmd, _words in {
    "offer": "offer offers ofer offr ofr quote quotation bid अफर",
    "accept": "accept accepted accpet acept swikar swikaar स्वीकार एक्सेप्ट",
    "pass": "pass skip reject rejected chaina chhaina chhaina xaina sakdina sakdaina पास छैन सक्दिन",
    "stock": "stock stk stok स्टक मौज्दात",
    "paid": "paid payment received recieved rcvd bhuktani bhuktaani tiryo tiryo bhuktani भुक्तानी तिर्यो पेड",
    "dispatched": "dispatched dispatch dispached sent shipped pathaye pathaiyo pathaeko pathayo niskyo "
    "nikaleko haliyo halyo loaded pathaidiye pathaidiyeko pathaisake pathaisakeko niklyo nikalyo nikaliyo "
    "hidyo hidisakyo hideko load पठाइयो पठाएँ पठाए पठायो निकाल्यो हिँड्यो "
    "निस्कियो पठाइसकें पठाइदिएँ",
    "delivered": "delivered deliverd delivred pugyo pugaye pugayo puryaye puryaiyo puryayo pugaiyo pugayeko "
    "pugaidiye pugaisake pugaisakeko handed pugisakyo pugisake pugeko पुर्याइसकें पुर्याइदिएँ पुगिसक्यो "
    "पुग्यो पुर्याइयो पुर्‍याइयो पुर्यायो डेलिभर",
}.items():
    for _w in _words.split():
        WHOLESALER_COMMANDS[word_key(_w)] = _cmd
STOCK_OUT_WORDS: frozenset[str] = _keys("out khatam sakiyo sakyo nil finished सकियो खतम")

DELIVERY_DAYS: dict[str, int] = {}
for _days, _words in {
    0: "today aaja aaj aja same_day आज",
    1: "tomorrow tmrw tmr tomorow tommorow bholi voli bholii भोलि भोली",
    2: "parsi parsi parshi parsii पर्सि पर्सी",
}.items():
    for _w in _words.split():
        DELIVERY_DAYS[word_key(_w.replace("_", ""))] = _days
DAY_WORDS: frozenset[str] = _keys("day days din dina दिन")
CURRENCY_WORDS: frozenset[str] = _keys("rs rs. npr nrs rupees rupaiya rupiya ru रु रू रुपैयाँ")

# Payment words -> the method's word ("nagad" -> "cash"), from the payment-method table.
PAYMENT_METHODS: dict[str, str] = {key: METHODS[code].word for key, code in SPELLINGS.items()}
REFERENCE_CUES: frozenset[str] = _keys("ref reference txn tx txid trx id transaction")

# --- order or not: the signals read before any product is matched ------------------------------
# An order needs one of these (or a written quantity, or a list); a question, a complaint or chat
# that merely names a product is not an order.
ORDER_VERBS: frozenset[str] = _keys(
    """send pathau pathaunu pathaunus pathaidinu pathaidinus pathaidinuhos pathaidinuhola pathaideu
    pathaidiu pathai pathaye pathaunuhola pathaunuhos pathaunu pathaidina chahiyo chaiyo chahiye chaiye chaincha
    chahincha chaheko chahiyeko chainxa chaiyeko dinus dinu dinuhos dinuhola deu diu dinos need needed want
    wanted require required bhej lyaunu lyaidinu lyaidinus lyau lyaideu bhejnu bhejdinu
    bhejdinus bhejo bhejiye bhejna rakhnu rakhdinu rakhidinu rakhidinus deliver supply
    पठाउनु पठाउनुस् पठाउनुहोस् पठाइदिनु पठाइदिनुस् पठाइदिनुहोस् पठाइदिनुहोला पठाउनुहोला पठाइदेऊ चाहियो चाहिन्छ चाहिएको
    दिनुस् दिनुहोस् दिनु ल्याइदिनु ल्याउनु राखिदिनु"""
)
ORDER_VERB_PREFIXES: tuple[str, ...] = tuple(
    sorted(_keys("pathau pathai pathae pathay chahiy chaiy चाहि पठाउ पठाइ पठाए ल्याइ ल्याउ lyai lyau bhej"))
)
# Negation of an item: "X chaidaina", "X nachahine", "X pardaina", "don't send X", "X napathaunu".
NEGATION_WORDS: frozenset[str] = _keys(
    """chaidaina chahidaina chaindaina chahindaina chaidain nachahine nachaine nachahiene pardaina
    pardain napathaunu napathaunus napathau napathaunuhos napathaune nalyaunu dont don't not without
    except bahek nachaiyeko chahidain chaidaena hoina haina होइन no
    चाहिँदैन चाहिदैन चाहिंदैन नचाहिने पर्दैन नपठाउनु नपठाउनुस् नपठाउनुहोस् बाहेक"""
)
# Distributive quantities: "chini ra dal dubai 2-2 kg", "each 2 kg".
EACH_WORDS: frozenset[str] = _keys(
    "dubai dubbai duitai duwai both each every teenai tinai tinaitai prati pratyek दुवै दुबै तीनै प्रत्येक प्रति हरेक"
)
# Questions: not orders unless a verb of ordering is there too ("pathaidinu hunchha?" is an order).
QUESTION_WORDS: frozenset[str] = _keys(
    """kati kina kahile kaile kasto kasari kun ke k what why when how which who whom whose kya kaha kahaa
    milcha milchha paincha painchha pauchha
    कति किन कहिले कस्तो कसरी कुन के कहाँ मिल्छ पाइन्छ"""
)
# A price asked: "tel ko rate kati?", "dal ko bhau", "how much is".
PRICE_WORDS: frozenset[str] = _keys(
    """rate rates ret price prices pricing bhau bhaau bhaw bhav daam dam mol mool mulya cost costs mrp
    katima sasto mahango mahanga sasta रेट भाउ दाम मोल मूल्य मुल्य कतिमा सस्तो महँगो"""
)
# Complaints about a delivery: talk, not an order.
COMPLAINT_WORDS: frozenset[str] = _keys(
    """futeko phuteko futyo phutyo bigreko bigryo kharab kharaab sadeko sadyo kuhiyeko missing broken
    damaged damage leaking leak chuheko chuhiyo expired expire expiry complain complaint complained
    faltu naramro ghati short torn fateko phateko chaldaina chalena bhanera
    bhachiyo bhanchiyo bhaachiyo bhachieko bhanchieko bhacheko chyatiyo chyateko chyatieko bigriyo
    cracked defective faulty dented rusted khiya
    फुटेको बिग्रेको खराब सडेको कुहिएको चुहिएको फाटेको म्याद गुनासो भाँचिएको भाँचियो च्यातिएको बिग्रियो"""
)
# Reorder: "same as last time", "aghi ko order feri pathaunu", "usual order".
REPEAT_WORDS: frozenset[str] = _keys(
    """same repeat usual again feri pheri pheri feri uhi uhee purano aghi aghiko agi agiko pahile
    pahila pahilako pahileko pachillo pachhillo gayeko gaya previous last jastai jastei pichhle pichle pichla jaisa baar
    उही फेरि अघि अघिको पहिले पहिलेको पहिलाको पछिल्लो अस्ति जस्तै"""
)
# Cancel said in other words ("the oil order, remove it", "tel ko order hatau").
REMOVE_WORDS: frozenset[str] = _keys(
    "remove delete scrap hatau hataunu hataidinu hataidinus hatai hatauna hataideu hatauna "
    "kattigarnu katdinu kataidinu हटाउ हटाउनु हटाइदिनु काटिदिनु"
)
# Everyday English and Nepali words that fuzzy matching must never read as a product.
COMMON_WORDS: frozenset[str] = _keys(
    """about after again all also always am an and any are around as ask asked at away back bad be because
    been before being best better big both bring broken but buy by call came can come coming could day days
    did do does done down each early else even every few fine first for free from get gets give given go
    going gone good got great had has have having he hello her here him his home hot how if in inside into
    is it its just keep kind know last late later left less let like little long look lot made make many
    may maybe me more morning most much must my need never new next nice night no not now number of off
    old on once one only open or other our out over own paid pay people phone place please quite rain
    rained raining rainy really right said same saw say see send shop should shut since small so some
    soon still stop such sure take tell than thank thanks that the their them then there these they
    thing think this those though time to today told tomorrow too took town two under until up us use
    very want was water way we weather week well went were what when where which while who why will
    with without work would year yes yesterday yet you your cold heat sunny cloudy tap drink drinking
    store stock shopkeeper customer customers market bazaar shutter closed close opening
    bhayo bhaeko thiyo thyo aayo aako gayo paryo parchha garnu garne gareko ramro naramro mausam barsat
    jhari ghar ghama jado garmi dherai thorai ali kasto sanchai khana khanu piunu pinu dinbhar
    bela beluka bihana raati hijo asti parsi aauchhu aaunchhu aaula jaanchhu jaula pasal sahar naya nayaa
    number nambar mobile phone fon bhanchhu bhanchu bhanula sorry mistake galti maaf"""
)
NEGATION_PREFIXES: tuple[str, ...] = tuple(sorted(_keys("napathau nachahi nachai नपठाउ नचाहि")))
ALSO_WORDS: frozenset[str] = _keys("pani pni")  # "also" after a product; "water" anywhere else
TIME_WORDS: frozenset[str] = _keys(
    """baje bajey bajyo bajetira ghanta ghanti hour hours hr hrs minute minutes min mins pm am din dina
    days day hapta week weeks mahina month months barsa year years बजे बजेतिर घण्टा मिनेट दिन हप्ता महिना बर्ष"""
)
# Help asked in a sentence: any of these word sets all present ("what can you do", "kasari chalaune").
HELP_SENTENCES: tuple[frozenset[str], ...] = tuple(
    _keys(p)
    for p in (
        "what can do", "what you do", "how work", "how works", "how use", "how does", "how do order",
        "what is this", "what this", "kasari chalaune", "kasari garne", "kasari order", "k garna", "ke garna",
        "ke ho yo", "k ho yo", "yo ke ho", "yo k ho", "कसरी चलाउने", "कसरी अर्डर", "के गर्न", "यो के हो",
        "kaise order", "what can ask", "what ask here", "system k garcha", "system ke garcha", "app k garcha",
        "system k garchha", "k garcha yo", "what is thok", "what thok", "thok ke ho", "thok k ho",
        "kasari kinne", "kasari kine", "ke ke milcha", "k k milcha", "ke ke paincha", "what do sell",
        "what sell", "कसरी किन्ने", "के के पाइन्छ", "के के मिल्छ",
    )
)  # fmt: skip
# Talk about the past or about selling, not a request: "pahile 6 pack bechthe", "hijo 2 kam aayo".
TALK_WORDS: frozenset[str] = _keys(
    """thiyo thyo thye bhayo bhaeko bhako bhaecha aayo aaeko aako aayena bechthe bechyo bikchha bikcha
    bikyo raichha raicha raixa piye khaye khayera sakiyo sakyo kholeko bhijeko bhijyo
    galat poster tansana tasna scheme garaula garaumla karte baat khanu piunu aaunus aaunu
    aaunchhu aaunchu aauchhu aauchu aaula aaunchha lanchhu lanchu launchhu launchu linchhu linchu
    lijanchhu lijanchu lagchhu gayo liyo liyera afai aafai aaphai banaudai pasyo khojeko khojyo sakincha
    थियो भयो आयो आएको बेच्थे बिक्छ रैछ सकियो खोलेको भिजेको भनेको आउँछु लान्छु लिन्छु आफै"""
)
# A pack's content asked: "X ko packet ma kati wota aucha?", "kati ko size cha?"
PACK_QUESTION_WORDS: frozenset[str] = _keys(
    """wota wata ota gota ta size saiz page pages वटा ओटा साइज pana paana jodi length lambai lamo width
    chaudai weight wajan taul meter metre mitar feet foot ft sqft square ghar coil roll bundle many long
    big heavy wide मिटर फिट लामो तौल जोडी पाना"""
)
# A measure named before "kati" ("size kati", "weight kati cha"): asked about the goods, not a price.
# ("jodi kati?", "coil kati?" ask the price of a pair or a coil.)
MEASURE_WORDS: frozenset[str] = _keys("size saiz length lambai width chaudai weight wajan taul साइज लम्बाइ तौल")
# The balance asked in a sentence: all words of one set present ("how much do I have to pay?").
BALANCE_SENTENCES: tuple[frozenset[str], ...] = tuple(
    _keys(p)
    for p in (
        "how much pay", "how much owe", "kati paisa", "kati tirnu", "bill kati", "mero bill", "total kati",
        "kati rupaiya", "कति पैसा", "कति तिर्नु", "बिल कति",
    )
)  # fmt: skip
# Status in a sentence: all words of one set present.
STATUS_SENTENCES: tuple[frozenset[str], ...] = tuple(
    _keys(p)
    for p in (
        "pathaunu bhayo", "pathaunu bhayo ki", "did send", "on way", "kab tak", "kab aayega", "order where",
        "पठाउनु भयो",
    )
)  # fmt: skip
# Words of talk, never read as a misspelt product by fuzzy matching.
NOT_PRODUCT_WORDS: frozenset[str] = (
    COMMON_WORDS | REPEAT_WORDS | QUESTION_WORDS | NEGATION_WORDS | COMPLAINT_WORDS | PRICE_WORDS | TIME_WORDS
    | BAKI_WORDS | TALK_WORDS | PACK_QUESTION_WORDS | _keys("pachi pachhi paxi aru kei arko")
)
# "ahile pugcha" (enough for now) and "chaina chahiyeko" (not needed) say an item is not wanted.
ENOUGH_WORDS: frozenset[str] = _keys("pugcha pugchha pugxa पुग्छ")
NOT_THERE_WORDS: frozenset[str] = _keys("chaina chhaina xaina छैन nahi nahin नहीं")
PRE_NEGATION_WORDS: frozenset[str] = _keys("dont don't not without except no")
# Measures of a product's size inside its name ("3 inch kanti", "Tractor 20 L", "Philips 9W"): a
# number with one of these names a variety, never a product on its own.
SIZE_WORDS: frozenset[str] = _keys(
    """inch inches inchi in mm cm watt watts w ml l lt ltr litre liter litres kg kgs g gm gms gram grams
    ft feet sq amp amps a sutar suta इन्च इञ्च एमएम मिमि वाट लिटर केजी ग्राम फिट एम्पियर"""
)
# Words of talk never read as a generic product word either ("pichhle baar" is not a soap bar).
NEVER_TOKEN_WORDS: frozenset[str] = REPEAT_WORDS | TALK_WORDS | TIME_WORDS
