"""THE message catalog: every text Thok sends, in English and Nepali (Devanagari).

`t(key, lang, **kw)` formats one entry; an unknown language falls back to English, an unknown key
is a bug and raises. Later issues add keys here, never literal reply strings elsewhere.
"""

from __future__ import annotations

import re

CATALOG: dict[str, dict[str, str]] = {
    "help": {
        "en": (
            "Namaste{name}! I am Thok, your wholesale ordering assistant.\n"
            "Send your order as one item per line, for example:\n"
            "  2 bora chamal\n  5 kg dal\n"
            "Reply HELP at any time to see this again."
        ),
        "ne": (
            "नमस्ते{name}! म थोक हुँ, तपाईंको थोक अर्डर सहायक।\n"
            "आफ्नो अर्डर एक लाइनमा एउटा सामान गरी पठाउनुहोस्, जस्तै:\n"
            "  २ बोरा चामल\n  ५ केजी दाल\n"
            "यो सन्देश फेरि हेर्न जुनसुकै बेला HELP लेख्नुहोस्।"
        ),
    },
    "register": {
        "en": (
            "Namaste! This number is not registered with Thok yet. "
            "To start ordering, please ask your Thok agent or call our support line to register your shop."
        ),
        "ne": (
            "नमस्ते! यो नम्बर थोकमा अझै दर्ता भएको छैन। "
            "अर्डर सुरु गर्न आफ्नो थोक प्रतिनिधिलाई भन्नुहोस् वा सहायता लाइनमा फोन गरेर पसल दर्ता गर्नुहोस्।"
        ),
    },
    "media_unsupported": {
        "en": (
            "Thank you, we received your photo. For now Thok understands only text orders: "
            "please type your order, one item per line."
        ),
        "ne": (
            "धन्यवाद, तपाईंको फोटो प्राप्त भयो। अहिलेलाई थोकले लेखिएको अर्डर मात्र बुझ्छ: "
            "कृपया आफ्नो अर्डर टाइप गर्नुहोस्, एक लाइनमा एउटा सामान।"
        ),
    },
    # --- the offer process (domain.decision notices) ---------------------------------------------
    "offer_invite": {
        "en": (
            "New order {ref} for delivery in {district}: NPR {total} at your catalog prices.\n"
            "Reply ACCEPT {ref} to take it, OFFER {ref} <price> <when> to offer better "
            "(e.g. OFFER {ref} 5400 tomorrow), or PASS {ref}."
        ),
        "ne": (
            "नयाँ अर्डर {ref} ({district} मा डेलिभरी): तपाईंको मूल्यमा रु {total}।\n"
            "लिन ACCEPT {ref} लेख्नुहोस्, राम्रो मूल्य दिन OFFER {ref} <मूल्य> <कहिले> "
            "(जस्तै OFFER {ref} 5400 भोलि), वा PASS {ref}।"
        ),
    },
    "offer_won": {
        "en": "You won order {ref} at NPR {total}. Reply ACCEPT {ref} to confirm it, or PASS {ref}.",
        "ne": "अर्डर {ref} रु {total} मा तपाईंले पाउनुभयो। पक्का गर्न ACCEPT {ref} लेख्नुहोस्, वा PASS {ref}।",
    },
    "offer_lost": {
        "en": "Order {ref} went to another wholesaler this time. Thank you for your offer.",
        "ne": "अर्डर {ref} यसपटक अर्को थोक विक्रेतालाई गयो। तपाईंको प्रस्तावको लागि धन्यवाद।",
    },
    "winner_declined": {
        "en": "Order {ref} is released; it goes to the next offer.",
        "ne": "अर्डर {ref} छोडियो; यो अर्को प्रस्तावमा जान्छ।",
    },
    "winner_selected": {
        "en": "Order {ref}: a wholesaler was chosen at NPR {total}. We are waiting for their confirmation.",
        "ne": "अर्डर {ref}: रु {total} मा थोक विक्रेता छानियो। उहाँको पुष्टि पर्खिँदैछौं।",
    },
    "order_confirmed": {
        "en": "Order {ref} is confirmed: NPR {total} is added to your khata.",
        "ne": "अर्डर {ref} पक्का भयो: रु {total} तपाईंको खातामा थपियो।",
    },
    "order_expired": {
        "en": "Sorry, no wholesaler could supply order {ref} right now. Nothing was charged; please try again later.",
        "ne": "माफ गर्नुहोस्, अहिले कुनै थोक विक्रेताले अर्डर {ref} दिन सकेनन्। केही शुल्क लागेन; पछि फेरि प्रयास गर्नुहोस्।",
    },
    "order_dispatched": {
        "en": "Order {ref} is on its way.",
        "ne": "अर्डर {ref} पठाइयो, बाटोमा छ।",
    },
    "order_delivered": {
        "en": "Order {ref} is delivered. Thank you for ordering with Thok!",
        "ne": "अर्डर {ref} पुग्यो। थोकबाट अर्डर गर्नुभएकोमा धन्यवाद!",
    },
    "order_cancelled_wholesaler": {
        "en": "Order {ref} was cancelled by the retailer. Please do not send it.",
        "ne": "अर्डर {ref} पसलले रद्द गर्नुभयो। कृपया नपठाउनुहोस्।",
    },
}

LANGUAGES = ("en", "ne")
_DEVANAGARI = re.compile("[\u0900-\u097f]")


def t(key: str, lang: str | None, **kw: str) -> str:
    entry = CATALOG[key]
    return entry.get(lang or "en", entry["en"]).format(**kw)


def both(key: str, **kw: str) -> str:
    """English then Nepali in one message, for people whose language we do not know yet."""
    return "\n\n".join(t(key, lang, **kw) for lang in LANGUAGES)


def language_of(text: str, preferred: str | None = None) -> str:
    """The saved preference, else the message's script: any Devanagari letter means Nepali."""
    if preferred in LANGUAGES:
        return preferred  # type: ignore[return-value]
    return "ne" if _DEVANAGARI.search(text or "") else "en"
