"""THE message catalog: every text Thok sends, in English and Nepali (Devanagari).

`t(key, lang, **kw)` formats one entry; an unknown language falls back to English, an unknown key
is a bug and raises. Later issues add keys here, never literal reply strings elsewhere.
"""

from __future__ import annotations

import re

from domain.money import digits_for, npr_for

CATALOG: dict[str, dict[str, str]] = {
    "help": {
        "en": (
            "Namaste{name}! I am Thok: order wholesale stock here, and wholesalers offer their prices.\n"
            "• 2 bora jeera masino, 5 kg masoor dal — an order: the items, with commas or one per line\n"
            "• 2 bora chamal — a word with several products: I ask which, answer 1, 2 …\n"
            "• YES — place the order I summarised; NO — drop it\n"
            "• basmati ko rate kati? — today's best price\n"
            "• same as last time — your last delivered order again\n"
            "• status — your orders, and the one waiting for YES\n"
            "• cancel — cancel the order waiting for YES (cancel TK-XXXX: a placed one)\n"
            "• hisab — your khata: balance and last entries\n"
            "• nepali — answers in Nepali (english: in English)\n"
            "• HELP — this list"
        ),
        "ne": (
            "नमस्ते{name}! म थोक हुँ: यहाँ थोक सामान अर्डर गर्नुहोस्, थोक विक्रेताले मूल्य दिनुहुन्छ।\n"
            "• २ बोरा जीरा मसिनो, ५ केजी मसुरो दाल — अर्डर: सामान, अल्पविराम वा एक लाइनमा एउटा\n"
            "• २ बोरा चामल — धेरै सामानको एउटै नाम: कुन हो सोध्छु, १, २ … लेख्नुहोस्\n"
            "• हो — सारांशको अर्डर राख्न; होइन — छोड्न\n"
            "• बासमती को भाउ कति? — आजको उत्तम मूल्य\n"
            "• पहिले जस्तै — पछिल्लो पुगेको अर्डर फेरि\n"
            "• स्थिति — तपाईंका अर्डर, र हो पर्खिरहेको अर्डर\n"
            "• रद्द — हो पर्खिरहेको अर्डर रद्द (cancel TK-XXXX: राखिसकेको अर्डर)\n"
            "• हिसाब — तपाईंको खाता: बाँकी र पछिल्ला कारोबार\n"
            "• english — अंग्रेजीमा जवाफ (नेपाली: नेपालीमा)\n"
            "• HELP — यो सूची"
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
    # --- the offer process (domain.selection notices) --------------------------------------------
    "offer_invite": {
        "en": (
            "New order {ref} from {shop}, {district}:\n{lines}\n"
            "Total at your prices: NPR {total}. Answer by {deadline} (Nepal time):\n"
            "ACCEPT {ref} — take it at your prices\n"
            "OFFER {ref} <total> <when> — offer a better total, e.g. OFFER {ref} {example} tomorrow\n"
            "PASS {ref} — not this time"
        ),
        "ne": (
            "नयाँ अर्डर {ref}, {shop} ({district}) बाट:\n{lines}\n"
            "तपाईंको मूल्यमा जम्मा: रु {total}। {deadline} (नेपाल समय) भित्र जवाफ दिनुहोस्:\n"
            "ACCEPT {ref} — आफ्नो मूल्यमा लिन\n"
            "OFFER {ref} <जम्मा> <कहिले> — अझ राम्रो मूल्य दिन, जस्तै OFFER {ref} {example} भोलि\n"
            "PASS {ref} — यसपटक नलिने"
        ),
    },
    "offer_won": {
        "en": (
            "You won order {ref} at NPR {total}{delivery}.\n{lines}\n"
            "Deliver to {shop} ({retailer}), {phone}, {address}.\n"
            "Reply ACCEPT {ref} by {deadline} (Nepal time) to confirm it, or PASS {ref}."
        ),
        "ne": (
            "अर्डर {ref} रु {total} मा तपाईंले पाउनुभयो{delivery}।\n{lines}\n"
            "डेलिभरी: {shop} ({retailer}), {phone}, {address}।\n"
            "पक्का गर्न {deadline} (नेपाल समय) भित्र ACCEPT {ref} लेख्नुहोस्, वा PASS {ref}।"
        ),
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
        "en": (
            "Order {ref}: {wholesaler} gave the best offer, NPR {total}{delivery}. "
            "We are waiting for them to confirm; then it goes on your khata."
        ),
        "ne": "अर्डर {ref}: {wholesaler} को प्रस्ताव उत्तम, रु {total}{delivery}। उहाँको पुष्टि पर्खिँदैछौं; त्यसपछि खातामा जान्छ।",
    },
    "order_confirmed": {
        "en": "Order {ref} is confirmed: {wholesaler} delivers it{delivery}. NPR {total} is added to your khata.\n{lines}",
        "ne": "अर्डर {ref} पक्का भयो: {wholesaler} ले डेलिभरी गर्नुहुन्छ{delivery}। रु {total} तपाईंको खातामा थपियो।\n{lines}",
    },
    "order_expired": {
        "en": (
            "Sorry, no wholesaler could supply order {ref} right now. Nothing was charged. "
            "Send the order again later, or fewer items or smaller quantities."
        ),
        "ne": (
            "माफ गर्नुहोस्, अहिले कुनै थोक विक्रेताले अर्डर {ref} दिन सकेनन्। केही शुल्क लागेन। "
            "पछि फेरि पठाउनुहोस्, वा कम सामान / कम परिमाण राखेर पठाउनुहोस्।"
        ),
    },
    "order_dispatched": {
        "en": "Order {ref} is on its way from {wholesaler}.",
        "ne": "अर्डर {ref} {wholesaler} बाट पठाइयो, बाटोमा छ।",
    },
    "order_delivered": {
        "en": "Order {ref} is delivered. Thank you for ordering with Thok!",
        "ne": "अर्डर {ref} पुग्यो। थोकबाट अर्डर गर्नुभएकोमा धन्यवाद!",
    },
    "order_cancelled_wholesaler": {
        "en": "Order {ref} was cancelled by the retailer. Please do not send it.",
        "ne": "अर्डर {ref} पसलले रद्द गर्नुभयो। कृपया नपठाउनुहोस्।",
    },
    # --- the conversation (handlers/) -----------------------------------------------------------
    "order_summary": {
        "en": "Your order:\n{lines}\nEstimated total: NPR {total} (wholesalers may offer better).\nReply YES to confirm or NO to cancel.",
        "ne": "तपाईंको अर्डर:\n{lines}\nअनुमानित जम्मा: रु {total} (थोक विक्रेताले अझ राम्रो मूल्य दिन सक्छन्)।\nपक्का गर्न YES / हो, रद्द गर्न NO / होइन लेख्नुहोस्।",
    },
    "order_line": {
        "en": "• {quantity} {unit} {name} — NPR {amount}",
        "ne": "• {quantity} {unit} {name} — रु {amount}",
    },
    "draft_added": {
        "en": "Added to your order (not placed yet). To start over instead, send new with the items, e.g. new 2 bora basmati.",
        "ne": "तपाईंको अर्डरमा थपियो (अझै राखिएको छैन)। सुरुदेखि गर्न नयाँ लेखेर सामान पठाउनुहोस्, जस्तै: नयाँ २ बोरा बासमती।",
    },
    "draft_so_far": {
        "en": "Your order so far:\n{lines}\nEstimated so far: NPR {total}",
        "ne": "अहिलेसम्मको अर्डर:\n{lines}\nअहिलेसम्म अनुमानित: रु {total}",
    },
    "ask_choice": {
        "en": "Which one do you mean by \"{text}\" ({quantity})?\n{options}\nReply with the number, e.g. 1.",
        "ne": "\"{text}\" ({quantity}) भन्नाले कुन हो?\n{options}\nनम्बर लेखेर जवाफ दिनुहोस्, जस्तै: १।",
    },
    "choice_option": {"en": "{n}. {name}", "ne": "{n}. {name}"},
    "choice_out_of_range": {
        "en": "Please reply with one of the numbers 1 to {count}.",
        "ne": "कृपया १ देखि {count} सम्मको एउटा नम्बर लेख्नुहोस्।",
    },
    "nothing_to_choose": {
        "en": "There is no question waiting for a number. Send your order, for example: 2 bora basmati.",
        "ne": "नम्बरले जवाफ दिनुपर्ने कुनै प्रश्न छैन। आफ्नो अर्डर पठाउनुहोस्, जस्तै: २ बोरा बासमती।",
    },
    "answer_first": {
        "en": "First tell me which product you mean; then reply YES.",
        "ne": "पहिले कुन सामान हो भन्नुहोस्; त्यसपछि YES / हो लेख्नुहोस्।",
    },
    "confirm_explicit": {
        "en": "To place this order, reply YES (or NO to cancel it):\n{lines}\nEstimated total: NPR {total}",
        "ne": "यो अर्डर राख्न YES / हो लेख्नुहोस् (रद्द गर्न NO / होइन):\n{lines}\nअनुमानित जम्मा: रु {total}",
    },
    "draft_expired": {
        "en": "Your order was not confirmed within {minutes} minutes, so it expired: nothing was ordered. Please send it again.",
        "ne": "तपाईंको अर्डर {minutes} मिनेटभित्र पक्का नभएकाले म्याद सकियो: केही अर्डर भएन। कृपया फेरि पठाउनुहोस्।",
    },
    "draft_cancelled": {
        "en": "OK, your order was cancelled before it was placed. Nothing was ordered.",
        "ne": "ठिक छ, तपाईंको अर्डर राख्नुअघि नै रद्द भयो। केही अर्डर भएन।",
    },
    "draft_cancel_open_order": {
        "en": "Your placed order {ref} is still open; to cancel it too, send: cancel {ref}",
        "ne": "पहिले राखेको अर्डर {ref} अझै खुला छ; त्यो पनि रद्द गर्न लेख्नुहोस्: cancel {ref}",
    },
    "status_draft": {
        "en": "Not placed yet (reply YES to place it, NO to cancel):\n{lines}\nEstimated total: NPR {total}",
        "ne": "अझै राखिएको छैन (राख्न YES / हो, रद्द गर्न NO / होइन):\n{lines}\nअनुमानित जम्मा: रु {total}",
    },
    "status_draft_question": {
        "en": "Still to choose: which product you mean by {words}.",
        "ne": "अझै छान्न बाँकी: {words} भन्नाले कुन सामान।",
    },
    "status_total": {"en": " — NPR {total}", "ne": " — रु {total}"},
    "ask_ambiguous": {
        "en": "Which one do you mean by \"{text}\"? {options}. Please send the order again with the full name.",
        "ne": "\"{text}\" भन्नाले कुन हो? {options}। कृपया पूरा नाम लेखेर अर्डर फेरि पठाउनुहोस्।",
    },
    "ask_unmatched": {
        "en": "I could not find \"{text}\" in our catalog, so it is not in your order.{suggestion} Write it another way if you need it.",
        "ne": "\"{text}\" हाम्रो सूचीमा भेटिएन, त्यसैले अर्डरमा राखिएन।{suggestion} चाहिन्छ भने अर्को तरिकाले लेख्नुहोस्।",
    },
    "did_you_mean": {
        "en": " Did you mean: {options}?",
        "ne": " तपाईंले यो भन्न खोज्नुभएको हो: {options}?",
    },
    "unit_mismatch": {
        "en": "{name} is sold by the {unit}; please write how many {unit} you need.",
        "ne": "{name} {unit} मा बिक्री हुन्छ; कति {unit} चाहिन्छ लेख्नुहोस्।",
    },
    "not_available": {
        "en": "{name} is not available from any wholesaler right now.",
        "ne": "{name} अहिले कुनै थोक विक्रेतासँग उपलब्ध छैन।",
    },
    "order_placed": {
        "en": (
            "Order {ref} is placed (estimate NPR {total}). We asked {count} wholesaler(s) for offers; "
            "within {minutes} minute(s) we tell you who won, the price and the delivery day. "
            "If nobody offers, nothing is charged and we tell you. STATUS shows it; CANCEL {ref} cancels it."
        ),
        "ne": (
            "अर्डर {ref} राखियो (अनुमानित रु {total})। {count} थोक विक्रेतालाई प्रस्ताव मागेका छौं; "
            "{minutes} मिनेटभित्र कसले पायो, मूल्य र डेलिभरी दिन जानकारी दिन्छौं। "
            "कसैले प्रस्ताव नदिए केही शुल्क लाग्दैन र जानकारी दिन्छौं। STATUS ले देखाउँछ; CANCEL {ref} ले रद्द गर्छ।"
        ),
    },
    "nothing_to_confirm": {
        "en": "There is no order waiting for your YES. Send your order first, for example: 2 bora chamal.",
        "ne": "पक्का गर्नुपर्ने कुनै अर्डर छैन। पहिले अर्डर पठाउनुहोस्, जस्तै: २ बोरा चामल।",
    },
    "draft_discarded": {
        "en": "OK, that order was not placed.",
        "ne": "ठिक छ, त्यो अर्डर राखिएन।",
    },
    "credit_refused": {
        "en": "Credit limit reached: available NPR {available}, order NPR {amount}. Please pay some of your balance or ask Thok to raise your limit.",
        "ne": "उधारो सीमा पुग्यो: बाँकी सीमा रु {available}, अर्डर रु {amount}। कृपया केही रकम तिर्नुहोस् वा सीमा बढाउन थोकलाई भन्नुहोस्।",
    },
    "no_wholesaler": {
        "en": "Sorry, no wholesaler has all of these items in stock right now. Try fewer items or smaller quantities.",
        "ne": "माफ गर्नुहोस्, अहिले कुनै थोक विक्रेतासँग यी सबै सामान छैनन्। कम सामान वा कम परिमाण राखेर प्रयास गर्नुहोस्।",
    },
    "status_none": {
        "en": "You have no open orders.",
        "ne": "तपाईंको कुनै खुला अर्डर छैन।",
    },
    "status_list": {
        "en": "Your open orders:\n{lines}",
        "ne": "तपाईंका खुला अर्डरहरू:\n{lines}",
    },
    "status_line": {
        "en": "• {ref}: {state}{total}",
        "ne": "• {ref}: {state}{total}",
    },
    "state_PENDING_OFFERS": {"en": "waiting for offers", "ne": "प्रस्ताव पर्खिँदै"},
    "state_WHOLESALER_SELECTED": {"en": "wholesaler chosen, awaiting confirmation", "ne": "थोक विक्रेता छानियो, पुष्टि पर्खिँदै"},
    "state_CONFIRMED": {"en": "confirmed", "ne": "पक्का भयो"},
    "state_DISPATCHED": {"en": "on its way", "ne": "बाटोमा छ"},
    "state_DELIVERED": {"en": "delivered", "ne": "पुग्यो"},
    "state_CANCELLED": {"en": "cancelled", "ne": "रद्द भयो"},
    "state_EXPIRED": {"en": "expired (no offer)", "ne": "म्याद सकियो (प्रस्ताव आएन)"},
    "state_REJECTED": {"en": "rejected", "ne": "अस्वीकार भयो"},
    "cancel_done": {
        "en": "Order {ref} is cancelled.",
        "ne": "अर्डर {ref} रद्द भयो।",
    },
    "cancel_refused": {
        "en": "Order {ref} cannot be cancelled now: it is {state}.",
        "ne": "अर्डर {ref} अब रद्द गर्न मिल्दैन: यो {state}।",
    },
    "cancel_none": {
        "en": "You have no order that can be cancelled.",
        "ne": "रद्द गर्न मिल्ने कुनै अर्डर छैन।",
    },
    "balance": {
        "en": "Your khata:\nCredit limit: NPR {limit}\nOutstanding: NPR {outstanding}\nHeld for open orders: NPR {held}\nAvailable: NPR {available}{entries}",
        "ne": "तपाईंको खाता:\nउधारो सीमा: रु {limit}\nतिर्न बाँकी: रु {outstanding}\nखुला अर्डरका लागि रोकिएको: रु {held}\nउपलब्ध: रु {available}{entries}",
    },
    "balance_advance": {
        "en": "\nAdvance (your money, used by your next order): NPR {advance}",
        "ne": "\nअग्रिम (तपाईंको रकम, अर्को अर्डरमा प्रयोग हुन्छ): रु {advance}",
    },
    "balance_entries": {
        "en": "\nLast entries:\n{lines}",
        "ne": "\nपछिल्ला कारोबार:\n{lines}",
    },
    "balance_entry": {
        "en": "• {date} {kind} NPR {amount} — {description} (balance {balance})",
        "ne": "• {date} {kind} रु {amount} — {description} (बाँकी {balance})",
    },
    "entry_DEBIT": {"en": "owed", "ne": "उधारो"},
    "entry_CREDIT": {"en": "paid/credited", "ne": "भुक्तानी/जम्मा"},
    "balance_month": {
        "en": "Your khata for {month}:\nOpening balance: NPR {opening}\n{lines}{more}\nClosing balance: NPR {closing} ({count} entries)",
        "ne": "{month} को तपाईंको खाता:\nसुरु बाँकी: रु {opening}\n{lines}{more}\nअन्तिम बाँकी: रु {closing} ({count} कारोबार)",
    },
    "balance_month_empty": {"en": "No entries this month.", "ne": "यो महिना कुनै कारोबार छैन।"},
    "balance_pay_hint": {
        "en": "\nTo pay now through {gateways}, send PAY (or PAY 5000 for part of it).",
        "ne": "\n{gateways} बाट अहिले तिर्न तिर्नु लेख्नुहोस् (केही मात्र तिर्न: तिर्नु ५०००)।",
    },
    "pay_links": {
        "en": "Pay NPR {amount} of your khata{to}:\n{links}\nThe link works until {until}. Your khata changes only when the payment is confirmed.",
        "ne": "तपाईंको खाताको रु {amount}{to} तिर्नुहोस्:\n{links}\nयो लिङ्क {until} सम्म चल्छ। भुक्तानी पक्का भएपछि मात्र खाता बदलिन्छ।",
    },
    "pay_link_line": {"en": "• {gateway}: {url}", "ne": "• {gateway}: {url}"},
    "pay_to": {"en": " to {name}", "ne": " ({name} लाई)"},
    "pay_none_configured": {
        "en": "Paying from the chat is not set up yet. You owe NPR {outstanding}; pay your wholesaler as usual.",
        "ne": "च्याटबाट तिर्ने व्यवस्था अझै छैन। तपाईंको रु {outstanding} बाँकी छ; सधैँ जस्तै थोक विक्रेतालाई तिर्नुहोस्।",
    },
    "pay_nothing_due": {"en": "You owe nothing right now: there is nothing to pay.", "ne": "अहिले तपाईंको केही बाँकी छैन: तिर्नुपर्ने केही छैन।"},
    "pay_more_than_due": {
        "en": "NPR {asked} is more than you owe (NPR {due}). Send PAY for all of it, or a smaller amount.",
        "ne": "रु {asked} तपाईंको बाँकी (रु {due}) भन्दा धेरै हो। सबै तिर्न तिर्नु, वा सानो रकम लेख्नुहोस्।",
    },
    "pay_bad_amount": {
        "en": "I could not read the amount. Send PAY for all you owe, or PAY 5000 for part of it.",
        "ne": "रकम बुझिएन। सबै तिर्न तिर्नु, वा केही मात्र तिर्न तिर्नु ५००० लेख्नुहोस्।",
    },
    "payment_link_paid": {
        "en": "Payment received: NPR {amount} through {method}. Your khata now shows NPR {outstanding} owed. Thank you!",
        "ne": "भुक्तानी प्राप्त भयो: {method} बाट रु {amount}। अब तपाईंको खातामा रु {outstanding} बाँकी छ। धन्यवाद!",
    },
    "payment_link_paid_wholesaler": {
        "en": "{retailer} paid NPR {amount} through {method} (ref {reference}); it is booked in their khata.",
        "ne": "{retailer} ले {method} बाट रु {amount} तिर्नुभयो (सन्दर्भ {reference}); उहाँको खातामा चढाइयो।",
    },
    "payment_not_done": {
        "en": "Your {method} payment was not completed ({status}). Nothing was taken into your khata; send PAY to try again.",
        "ne": "तपाईंको {method} भुक्तानी पूरा भएन ({status})। खातामा केही चढाइएन; फेरि प्रयास गर्न तिर्नु लेख्नुहोस्।",
    },
    "payment_review": {
        "en": "{method} says a payment was made, but it does not match the NPR {amount} asked, so it was not booked by itself. Thok's team will check it and tell you.",
        "ne": "{method} ले भुक्तानी भएको भन्छ, तर माग गरिएको रु {amount} सँग मिलेन, त्यसैले आफैँ खातामा चढाइएन। थोकको टोलीले जाँचेर खबर गर्नेछ।",
    },
    "pay_page_completed": {"en": "Paid: NPR {amount}. Your khata is updated; you can close this page.", "ne": "तिरियो: रु {amount}। खाता अद्यावधिक भयो; यो पेज बन्द गर्न सक्नुहुन्छ।"},
    "pay_page_pending": {"en": "{method} has not confirmed the payment yet. You will get a WhatsApp message when it does.", "ne": "{method} ले भुक्तानी अझै पक्का गरेको छैन। पक्का भएपछि WhatsApp मा खबर आउँछ।"},
    "pay_page_closed": {"en": "This payment link is closed: {why}. Send PAY on WhatsApp for a new one.", "ne": "यो भुक्तानी लिङ्क बन्द भयो: {why}। नयाँ लिङ्कका लागि WhatsApp मा तिर्नु लेख्नुहोस्।"},
    "pay_page_not_done": {"en": "The payment was not completed; nothing was taken into your khata.", "ne": "भुक्तानी पूरा भएन; खातामा केही चढाइएन।"},
    "pay_page_review": {"en": "The payment does not match what was asked; Thok's team will check it.", "ne": "भुक्तानी माग गरिएको रकमसँग मिलेन; थोकको टोलीले जाँच्नेछ।"},
    "pay_page_unavailable": {"en": "{method} is not answering right now. Please try the link again in a few minutes.", "ne": "{method} ले अहिले जवाफ दिइरहेको छैन। केही मिनेटपछि फेरि लिङ्क खोल्नुहोस्।"},
    "pay_page_bad": {"en": "This page was not opened from a real payment; nothing was booked.", "ne": "यो पेज साँचो भुक्तानीबाट खोलिएको होइन; केही चढाइएन।"},
    "pay_page_redirect": {"en": "Taking you to eSewa…", "ne": "eSewa मा लैजाँदै…"},
    # `thok demo`'s pretend Khalti (bot/demo_gateway.py): no real money moves, and it says so.
    "demo_gateway_page": {"en": "Demo Khalti — no real money moves. Pay NPR {amount} for {name}?", "ne": "डेमो खल्ती — साँचो पैसा चल्दैन। {name} का लागि रु {amount} तिर्ने?"},
    "demo_gateway_pay": {"en": "Pay", "ne": "तिर्नु"},
    "demo_gateway_cancel": {"en": "Cancel", "ne": "रद्द गर्नु"},
    "demo_gateway_done": {"en": "This demo payment is already {status}.", "ne": "यो डेमो भुक्तानी पहिले नै {status} भइसक्यो।"},
    "statement_caption": {
        "en": "Your khata statement for {month} (PDF): opening balance NPR {opening}, {count} entries, closing balance NPR {closing}.",
        "ne": "{month} को तपाईंको खाता विवरण (PDF): सुरु बाँकी रु {opening}, {count} कारोबार, अन्तिम बाँकी रु {closing}।",
    },
    "payment_reminder": {
        "en": "Namaste! A reminder from Thok: your khata shows NPR {outstanding} owed. Send HISAB to see it. Reply STOP for no more reminders.",
        "ne": "नमस्ते! थोकबाट सम्झना: तपाईंको खातामा रु {outstanding} तिर्न बाँकी छ। हेर्न हिसाब लेख्नुहोस्। सम्झना नचाहिए रोक्नुहोस् लेख्नुहोस्।",
    },
    "payment_reminder_pay": {
        "en": "Namaste! A reminder from Thok: your khata shows NPR {outstanding} owed. Send PAY to pay it now, or HISAB to see it. Reply STOP for no more reminders.",
        "ne": "नमस्ते! थोकबाट सम्झना: तपाईंको खातामा रु {outstanding} तिर्न बाँकी छ। अहिले तिर्न तिर्नु, हेर्न हिसाब लेख्नुहोस्। सम्झना नचाहिए रोक्नुहोस् लेख्नुहोस्।",
    },
    "wholesaler_owed_summary": {
        "en": "Thok weekly summary: {count} shops owe you NPR {total} on credit. Most first: {shops}.",
        "ne": "थोक साप्ताहिक विवरण: {count} पसलले तपाईंलाई उधारोमा रु {total} तिर्न बाँकी छ। धेरै बाँकी हुनेबाट: {shops}।",
    },
    "reminders_stopped": {
        "en": "OK, no more payment reminders. Your khata is unchanged; send START to get reminders again.",
        "ne": "हुन्छ, अब भुक्तानीको सम्झना पठाइने छैन। खाता जस्ताको तस्तै छ; फेरि सम्झना चाहिए सुरु लेख्नुहोस्।",
    },
    "reminders_started": {
        "en": "OK, you will get payment reminders again. Reply STOP to turn them off.",
        "ne": "हुन्छ, फेरि भुक्तानीको सम्झना पठाइनेछ। बन्द गर्न रोक्नुहोस् लेख्नुहोस्।",
    },
    "pdf_title": {"en": "Khata statement", "ne": "खाता विवरण"},
    "pdf_shop": {"en": "Shop", "ne": "पसल"},
    "pdf_wholesalers": {"en": "Wholesalers", "ne": "थोक विक्रेता"},
    "pdf_period": {"en": "Period", "ne": "अवधि"},
    "pdf_opening": {"en": "Opening balance (NPR)", "ne": "सुरु बाँकी (रु)"},
    "pdf_closing": {"en": "Closing balance (NPR)", "ne": "अन्तिम बाँकी (रु)"},
    "pdf_date": {"en": "Date (BS)", "ne": "मिति"},
    "pdf_details": {"en": "Order / payment", "ne": "अर्डर / भुक्तानी"},
    "pdf_debit": {"en": "Debit", "ne": "डेबिट"},
    "pdf_credit": {"en": "Credit", "ne": "क्रेडिट"},
    "pdf_balance": {"en": "Balance", "ne": "बाँकी"},
    "pdf_advance": {"en": "advance", "ne": "अग्रिम"},
    "pdf_totals": {"en": "Totals", "ne": "जम्मा"},
    "pdf_no_entries": {"en": "No entries this month.", "ne": "यो महिना कुनै कारोबार छैन।"},
    "pdf_generated": {"en": "Made by Thok", "ne": "थोकले बनाएको"},
    "balance_month_more": {
        "en": "\n…and {hidden} earlier entries (send STATEMENT for the full PDF)",
        "ne": "\n…र अघिका {hidden} कारोबार (पूरा PDF का लागि बिल पठाउनु लेख्नुहोस्)",
    },
    "greeting": {
        "en": "Namaste{name}! Send your order (for example: 2 bora chamal, 5 ctn wai wai), or HELP to see how.",
        "ne": "नमस्ते{name}! आफ्नो अर्डर पठाउनुहोस् (जस्तै: २ बोरा चामल, ५ कार्टुन वाइवाइ), वा तरिका हेर्न HELP लेख्नुहोस्।",
    },
    "language_set": {
        "en": "OK, I will reply in English from now on.",
        "ne": "ठिक छ, अबदेखि म नेपालीमा जवाफ दिन्छु।",
    },
    "unknown": {
        "en": "Sorry, I did not understand that. Send your order one item per line (for example: 2 bora chamal), or HELP.",
        "ne": "माफ गर्नुहोस्, बुझिनँ। आफ्नो अर्डर एक लाइनमा एउटा सामान गरी पठाउनुहोस् (जस्तै: २ बोरा चामल), वा HELP लेख्नुहोस्।",
    },
    "wholesaler_help": {
        "en": (
            "Thok commands for wholesalers (TK-XXXX is the order number in the request):\n"
            "• OFFER TK-XXXX 5400 tomorrow — offer a total (and the delivery day)\n"
            "• ACCEPT TK-XXXX — take it at your catalog prices, or confirm an order you won\n"
            "• PASS TK-XXXX — not this one (or give up one you won)\n"
            "• DISPATCHED TK-XXXX — the goods left; DELIVERED TK-XXXX — they arrived\n"
            "• STOCK jeera masino 40 — set your stock of a product\n"
            "• PAID 98XXXXXXXX 5000 esewa REF123 — record a shop's payment (cash, esewa, khalti, fonepay, bank)\n"
            "• STATUS — your open requests and orders\n"
            "• nepali — answers in Nepali (english: in English)"
        ),
        "ne": (
            "थोक विक्रेताका लागि आदेशहरू (TK-XXXX अनुरोधमा भएको अर्डर नम्बर हो):\n"
            "• OFFER TK-XXXX 5400 भोलि — जम्मा मूल्य (र डेलिभरी दिन) प्रस्ताव\n"
            "• ACCEPT TK-XXXX — आफ्नो मूल्यमा लिन, वा पाएको अर्डर पक्का गर्न\n"
            "• PASS TK-XXXX — यो नलिने (वा पाएको छोड्ने)\n"
            "• DISPATCHED TK-XXXX — सामान पठाइयो; DELIVERED TK-XXXX — पुग्यो\n"
            "• स्टक जीरा मसिनो ४० — सामानको स्टक\n"
            "• PAID 98XXXXXXXX 5000 esewa REF123 — पसलको भुक्तानी दर्ता (cash, esewa, khalti, fonepay, bank)\n"
            "• STATUS — बाँकी अनुरोध र अर्डर\n"
            "• english — अंग्रेजीमा जवाफ (नेपाली: नेपालीमा)"
        ),
    },
    "retailer_command_for_wholesaler": {
        "en": "That is a wholesaler command. To order, just send the items, for example: 2 bora chamal.",
        "ne": "त्यो थोक विक्रेताको आदेश हो। अर्डर गर्न सामान मात्र पठाउनुहोस्, जस्तै: २ बोरा चामल।",
    },
    "offer_received": {
        "en": "Your offer for {ref}: NPR {price}{delivery}. We will tell you the result when the window closes.",
        "ne": "{ref} का लागि तपाईंको प्रस्ताव: रु {price}{delivery}। नतिजा छिट्टै जानकारी गराउँछौं।",
    },
    "delivery_in_days": {
        "en": ", delivery in {days} day(s)",
        "ne": ", {days} दिनमा डेलिभरी",
    },
    "offer_late": {
        "en": "Thank you, but the offer window for {ref} has closed. We will ask you again for the next order.",
        "ne": "धन्यवाद, तर {ref} को प्रस्ताव समय सकियो। अर्को अर्डरमा फेरि सोध्नेछौं।",
    },
    "accept_received": {
        "en": (
            "Thank you: you accepted {ref} at your catalog prices. Offers are still open; when they close "
            "we tell you whether you won, and then you confirm with ACCEPT {ref} once more."
        ),
        "ne": (
            "धन्यवाद: तपाईंले {ref} आफ्नो मूल्यमा स्वीकार्नुभयो। प्रस्ताव अझै खुला छन्; बन्द भएपछि "
            "तपाईंले पाउनुभयो कि भनेर जानकारी दिन्छौं, अनि फेरि ACCEPT {ref} लेखेर पक्का गर्नुहुन्छ।"
        ),
    },
    "order_confirmed_wholesaler": {
        "en": "Order {ref} is confirmed to you. Reply DISPATCHED {ref} when it leaves your shop.",
        "ne": "अर्डर {ref} तपाईंलाई पक्का भयो। पठाएपछि DISPATCHED {ref} लेख्नुहोस्।",
    },
    "pass_received": {
        "en": "OK, you passed on {ref}.",
        "ne": "ठिक छ, तपाईंले {ref} छोड्नुभयो।",
    },
    "win_released": {
        "en": "OK, you released {ref}; it goes to the next offer.",
        "ne": "ठिक छ, तपाईंले {ref} छोड्नुभयो; यो अर्को प्रस्तावमा जान्छ।",
    },
    "stock_updated": {
        "en": "Stock of {name} is now {quantity} {unit}.",
        "ne": "{name} को स्टक अब {quantity} {unit}।",
    },
    "stock_which": {
        "en": "Which product? Write for example: STOCK RICE-JEERA 40",
        "ne": "कुन सामान? जस्तै लेख्नुहोस्: STOCK RICE-JEERA 40",
    },
    # --- numbers Thok cannot keep as written (refused, never rounded or cut) ----------------------
    "offer_too_large": {
        "en": "That price is more than Thok can record (at most NPR {maximum}). Check it and send OFFER {ref} again.",
        "ne": "त्यो मूल्य थोकले राख्न सक्ने भन्दा धेरै छ (बढीमा रु {maximum})। जाँचेर फेरि OFFER {ref} पठाउनुहोस्।",
    },
    "offer_paisa": {
        "en": "A price can have at most 2 decimal places (paisa). Send OFFER {ref} again, e.g. OFFER {ref} 4500.50",
        "ne": "मूल्यमा बढीमा २ दशमलव (पैसा) मात्र हुन्छ। फेरि OFFER {ref} पठाउनुहोस्, जस्तै OFFER {ref} 4500.50",
    },
    "stock_too_large": {
        "en": "That stock is more than Thok can record (at most {maximum}). Check the number and send STOCK again.",
        "ne": "त्यो स्टक थोकले राख्न सक्ने भन्दा धेरै छ (बढीमा {maximum})। संख्या जाँचेर फेरि STOCK पठाउनुहोस्।",
    },
    "stock_decimals": {
        "en": "Stock can have at most 3 decimal places. Send STOCK again, e.g. STOCK RICE-JEERA 40.5",
        "ne": "स्टकमा बढीमा ३ दशमलव मात्र हुन्छ। फेरि STOCK पठाउनुहोस्, जस्तै STOCK RICE-JEERA 40.5",
    },
    "input_too_large": {
        "en": "A number or text in your message is too large for Thok to record. Please check it and send again.",
        "ne": "तपाईंको सन्देशको कुनै संख्या वा शब्द थोकले राख्न सक्ने भन्दा ठूलो छ। कृपया जाँचेर फेरि पठाउनुहोस्।",
    },
    "payment_recorded": {
        "en": "Payment of NPR {amount} from {retailer} recorded ({method}). They now owe you NPR {outstanding}.",
        "ne": "{retailer} बाट रु {amount} भुक्तानी दर्ता भयो ({method})। अब तपाईंलाई तिर्न बाँकी रु {outstanding}।",
    },
    # One answer for every PAID about a shop this wholesaler has no open balance with (not
    # registered, never traded, paid up): it must not tell which (issue 13).
    "no_open_balance": {
        "en": "Sorry, that did not work: you have no open balance with {phone}, so no payment can be recorded against it.",
        "ne": "माफ गर्नुहोस्, मिलेन: {phone} सँग तपाईंको कुनै बाँकी हिसाब छैन, त्यसैले भुक्तानी दर्ता गर्न मिल्दैन।",
    },
    "payment_reference_too_long": {
        "en": "The payment reference is {length} characters long; at most {limit} fit. Please send PAID again with a shorter reference.",
        "ne": "भुक्तानीको रेफरेन्स {length} अक्षर लामो छ; बढीमा {limit} अक्षर मिल्छ। छोटो रेफरेन्स राखेर PAID फेरि पठाउनुहोस्।",
    },
    "payment_reversed": {
        "en": "Thok reversed the payment of NPR {amount} ({method}, {date}) that was recorded by mistake. Outstanding now: NPR {outstanding}.",
        "ne": "गल्तीले दर्ता भएको रु {amount} भुक्तानी ({method}, {date}) थोकले रद्द गर्‍यो। अब बाँकी: रु {outstanding}।",
    },
    "payment_reversed_wholesaler": {
        "en": "Thok reversed the payment of NPR {amount} from {retailer} ({method}, {date}) that was recorded by mistake. They now owe you NPR {owed}.",
        "ne": "{retailer} को रु {amount} भुक्तानी ({method}, {date}) गल्तीले दर्ता भएकोले थोकले रद्द गर्‍यो। अब तपाईंलाई तिर्न बाँकी रु {owed}।",
    },
    "payment_received": {
        "en": "{wholesaler} recorded your payment of NPR {amount} ({method}). Outstanding now: NPR {outstanding}.",
        "ne": "{wholesaler} ले तपाईंको रु {amount} भुक्तानी दर्ता गर्नुभयो ({method})। अब बाँकी: रु {outstanding}।",
    },
    "dispatched_ok": {
        "en": "Thank you: {ref} is marked as dispatched; the retailer is told.",
        "ne": "धन्यवाद: {ref} पठाइएको भनी दर्ता भयो; पसललाई जानकारी दिइयो।",
    },
    "delivered_ok": {
        "en": "Thank you: {ref} is marked as delivered.",
        "ne": "धन्यवाद: {ref} पुगेको भनी दर्ता भयो।",
    },
    "wholesaler_status_none": {
        "en": "You have no open invitations or orders.",
        "ne": "तपाईंसँग कुनै खुला प्रस्ताव वा अर्डर छैन।",
    },
    "wholesaler_status": {
        "en": "Your open work:\n{lines}",
        "ne": "तपाईंको बाँकी काम:\n{lines}",
    },
    "wholesaler_status_line": {
        "en": "{ref}, {shop}: {state} — NPR {total}\n{lines}",
        "ne": "{ref}, {shop}: {state} — रु {total}\n{lines}",
    },
    "not_found": {
        "en": "{detail}.",
        "ne": "माफ गर्नुहोस्, त्यो भेटिएन। लेखेको जाँच्नुहोस्, वा आदेशहरू हेर्न HELP लेख्नुहोस्।",
    },
    "refused": {
        "en": "Sorry, that did not work: {detail}.",
        "ne": "माफ गर्नुहोस्, त्यो मिलेन। लेखेको जाँच्नुहोस्, वा आदेशहरू हेर्न HELP लेख्नुहोस्।",
    },
    "order_not_found": {
        "en": "There is no order {ref}. Check the number; STATUS lists your orders.",
        "ne": "अर्डर {ref} भेटिएन। नम्बर जाँच्नुहोस्; STATUS ले तपाईंका अर्डर देखाउँछ।",
    },
    "retailer_not_found": {
        "en": "No shop is registered with the number {phone}. Check the number, or ask Thok to register the shop.",
        "ne": "{phone} नम्बरमा कुनै पसल दर्ता छैन। नम्बर जाँच्नुहोस्, वा पसल दर्ता गर्न थोकलाई भन्नुहोस्।",
    },
    "not_invited": {
        "en": "You were not asked for an offer on {ref}. STATUS lists the orders waiting for you.",
        "ne": "{ref} का लागि तपाईंसँग प्रस्ताव मागिएको थिएन। STATUS ले तपाईंलाई पर्खिरहेका अर्डर देखाउँछ।",
    },
    "already_answered": {
        "en": "You already answered {ref}: {state}. Each order takes one answer.",
        "ne": "तपाईंले {ref} को जवाफ दिइसक्नुभयो: {state}। एउटा अर्डरमा एउटै जवाफ।",
    },
    "order_not_waiting": {
        "en": "Order {ref} is not waiting for that from you: it is {state}. STATUS lists your open work.",
        "ne": "अर्डर {ref} ले तपाईंबाट त्यो पर्खिरहेको छैन: यो {state}। STATUS ले बाँकी काम देखाउँछ।",
    },
    "offer_PENDING": {"en": "not answered yet", "ne": "जवाफ बाँकी"},
    "offer_SUBMITTED": {"en": "your offer is in", "ne": "तपाईंको प्रस्ताव दर्ता छ"},
    "offer_PASSED": {"en": "you passed", "ne": "तपाईंले छोड्नुभयो"},
    "offer_WON": {"en": "you won it", "ne": "तपाईंले पाउनुभयो"},
    "offer_LOST": {"en": "it went to another wholesaler", "ne": "अर्को थोक विक्रेतालाई गयो"},
    "offer_DECLINED": {"en": "you released it", "ne": "तपाईंले छोड्नुभयो"},
    "need_ref": {
        "en": "Please include the order number, for example: {command} TK-7F3K",
        "ne": "कृपया अर्डर नम्बर पनि लेख्नुहोस्, जस्तै: {command} TK-7F3K",
    },
    # --- notice details (handlers.notices) --------------------------------------------------------
    "notice_line": {"en": "• {quantity} {unit} {name}{price}", "ne": "• {quantity} {unit} {name}{price}"},
    "notice_line_price": {"en": " @ NPR {price}/{unit}", "ne": " @ रु {price}/{unit}"},
    "notice_delivery": {"en": ", delivery {when} ({date})", "ne": ", डेलिभरी {when} ({date})"},
    "day_today": {"en": "today", "ne": "आज"},
    "day_tomorrow": {"en": "tomorrow", "ne": "भोलि"},
    "day_in_days": {"en": "in {days} days", "ne": "{days} दिनमा"},
    "month_1": {"en": "Jan", "ne": "जनवरी"},
    "month_2": {"en": "Feb", "ne": "फेब्रुअरी"},
    "month_3": {"en": "Mar", "ne": "मार्च"},
    "month_4": {"en": "Apr", "ne": "अप्रिल"},
    "month_5": {"en": "May", "ne": "मे"},
    "month_6": {"en": "Jun", "ne": "जुन"},
    "month_7": {"en": "Jul", "ne": "जुलाई"},
    "month_8": {"en": "Aug", "ne": "अगस्ट"},
    "month_9": {"en": "Sep", "ne": "सेप्टेम्बर"},
    "month_10": {"en": "Oct", "ne": "अक्टोबर"},
    "month_11": {"en": "Nov", "ne": "नोभेम्बर"},
    "month_12": {"en": "Dec", "ne": "डिसेम्बर"},
    # unit names as people write them
    "unit_bora": {"en": "bora", "ne": "बोरा"},
    "unit_kg": {"en": "kg", "ne": "केजी"},
    "unit_g": {"en": "g", "ne": "ग्राम"},
    "unit_litre": {"en": "litre", "ne": "लिटर"},
    "unit_carton": {"en": "carton", "ne": "कार्टुन"},
    "unit_packet": {"en": "packet", "ne": "प्याकेट"},
    "unit_piece": {"en": "piece", "ne": "वटा"},
    "unit_dozen": {"en": "dozen", "ne": "दर्जन"},
    "unit_tray": {"en": "tray", "ne": "ट्रे"},
    "unit_crate": {"en": "crate", "ne": "क्रेट"},
    "unit_case": {"en": "case", "ne": "केस"},
    "unit_box": {"en": "box", "ne": "बक्सा"},
    "unit_bottle": {"en": "bottle", "ne": "बोतल"},
    "unit_ml": {"en": "ml", "ne": "एमएल"},
    "unit_quintal": {"en": "quintal", "ne": "क्विन्टल"},
    "unit_pathi": {"en": "pathi", "ne": "पाथी"},
    "unit_mana": {"en": "mana", "ne": "माना"},
    "unit_dharni": {"en": "dharni", "ne": "धार्नी"},
    # --- parser (issue 16): prices, reorder, quantities that were not used ------------------------
    "price_line": {
        "en": "• {name}: NPR {price} per {unit}",
        "ne": "• {name}: प्रति {unit} रु {price}",
    },
    "price_line_elsewhere": {
        "en": "• {name}: NPR {price} per {unit} (no wholesaler in your district has it now; this is the best price elsewhere)",
        "ne": "• {name}: प्रति {unit} रु {price} (तपाईंको जिल्लामा अहिले छैन; यो अरू ठाउँको सबैभन्दा राम्रो मूल्य हो)",
    },
    "price_line_none": {
        "en": "• {name}: no wholesaler has it in stock right now",
        "ne": "• {name}: अहिले कुनै थोक विक्रेतासँग स्टकमा छैन",
    },
    "price_reply": {
        "en": "Today's best prices:\n{lines}\nTo order, send the quantity and the product, e.g. \"{example}\".",
        "ne": "आजको सबैभन्दा राम्रो मूल्य:\n{lines}\nअर्डर गर्न परिमाण र सामान लेख्नुहोस्, जस्तै \"{example}\"।",
    },
    "price_which": {
        "en": "Which product's price would you like? Please write its name, e.g. \"basmati ko rate\".",
        "ne": "कुन सामानको मूल्य चाहियो? कृपया नाम लेख्नुहोस्, जस्तै \"बासमती को रेट\"।",
    },
    "reorder_none": {
        "en": "I found no delivered order of yours to repeat. Please send the order, one item per line.",
        "ne": "दोहोर्याउन तपाईंको कुनै पुगेको अर्डर भेटिएन। कृपया अर्डर पठाउनुहोस्, एक लाइनमा एउटा सामान।",
    },
    "reorder_from": {
        "en": "Your last delivered order {ref}, again:",
        "ne": "तपाईंको पछिल्लो पुगेको अर्डर {ref}, फेरि:",
    },
    "quantity_refused": {
        "en": "I could not use the quantity \"{text}\"{name}: {reason}. Nothing was ordered or changed.",
        "ne": "परिमाण \"{text}\"{name} प्रयोग गर्न सकिएन: {reason}। केही अर्डर वा परिवर्तन भएको छैन।",
    },
    "quantity_refused_ask": {
        "en": "Please send it again with a plain number, e.g. \"2 bora basmati\".",
        "ne": "कृपया सादा अङ्कमा फेरि पठाउनुहोस्, जस्तै \"२ बोरा बासमती\"।",
    },
    "quantity_for": {"en": " for {name}", "ne": " ({name})"},
    "unit_converted": {"en": "{written} of {name} is {quantity}.", "ne": "{name} {written} भनेको {quantity} हो।"},
    "quantity_reason_negative": {"en": "a quantity cannot be negative", "ne": "परिमाण ऋणात्मक हुन सक्दैन"},
    "quantity_reason_zero": {"en": "it is zero", "ne": "यो शून्य हो"},
    "quantity_reason_too_large": {
        "en": "that is more than one order can hold",
        "ne": "एउटा अर्डरमा यति धेरै हुन सक्दैन",
    },
    "quantity_reason_not_plain": {"en": "it is not a plain number", "ne": "यो सादा अङ्क होइन"},
    # --- tappable answers (handlers.choices): WhatsApp cuts button titles at 20, list rows at 24 ---
    "btn_confirm": {"en": "Confirm", "ne": "पक्का गर्नु"},
    "btn_change": {"en": "Change", "ne": "बदल्नु"},
    "btn_cancel": {"en": "Cancel", "ne": "रद्द गर्नु"},
    "btn_accept": {"en": "Accept my prices", "ne": "मेरो मूल्यमा लिन्छु"},
    "btn_offer": {"en": "Make an offer", "ne": "मूल्य दिन्छु"},
    "btn_pass": {"en": "Pass", "ne": "छोड्छु"},
    "btn_confirm_win": {"en": "Confirm order", "ne": "अर्डर पक्का"},
    "btn_pay": {"en": "Pay now", "ne": "अहिले तिर्नु"},
    "btn_khata": {"en": "Show khata", "ne": "खाता हेर्नु"},
    "list_button": {"en": "Choose", "ne": "छान्नुहोस्"},
    "draft_change": {
        "en": (
            "Your order is kept. To add, write the items (e.g. 2 bora basmati); to start over, write new "
            "with the items; to drop it, write NO."
        ),
        "ne": (
            "तपाईंको अर्डर राखिएको छ। थप्न सामान लेख्नुहोस् (जस्तै: २ बोरा बासमती); सुरुदेखि गर्न नयाँ "
            "लेखेर सामान पठाउनुहोस्; रद्द गर्न होइन लेख्नुहोस्।"
        ),
    },
    "offer_ask_price": {
        "en": "Write your total and delivery day for {ref}, e.g. OFFER {ref} 4500 tomorrow",
        "ne": "{ref} को लागि आफ्नो जम्मा मूल्य र डेलिभरी दिन लेख्नुहोस्, जस्तै: OFFER {ref} 4500 भोलि",
    },
    # --- domain refusals by code (domain/errors.py: DomainError.code; handlers/errors.py renders) ---
    "invalid_input": {
        "en": "Sorry, that did not work: {detail}.",
        "ne": "माफ गर्नुहोस्, त्यो मिलेन: लेखेको कुरा थोकका नियमसँग मिलेन। जाँचेर फेरि पठाउनुहोस्, वा आदेशहरू हेर्न HELP लेख्नुहोस्।",
    },
    "out_of_range": {
        "en": "That number is more than Thok can record ({detail}). Please check it and send again.",
        "ne": "त्यो संख्या थोकले राख्न सक्ने भन्दा ठूलो छ (बढीमा {maximum})। जाँचेर फेरि पठाउनुहोस्।",
    },
    "too_many_decimals": {
        "en": "That number has more than {places} decimal places; Thok does not round it. Please send it again.",
        "ne": "त्यो संख्यामा दशमलवपछि {places} भन्दा धेरै अङ्क छन्; थोकले आफैं मिलाउँदैन। फेरि पठाउनुहोस्।",
    },
    "try_again": {
        "en": "Sorry, Thok could not do that just now. Please send it again.",
        "ne": "माफ गर्नुहोस्, थोकले अहिले त्यो गर्न सकेन। कृपया फेरि पठाउनुहोस्।",
    },
    "order_empty": {
        "en": "An order needs at least one item. Send the items, e.g. 2 bora basmati.",
        "ne": "अर्डरमा कम्तीमा एउटा सामान चाहिन्छ। सामान लेख्नुहोस्, जस्तै: २ बोरा बासमती।",
    },
    "product_gone": {
        "en": "A product in your order is no longer in the catalog. Please send the order again.",
        "ne": "तपाईंको अर्डरको एउटा सामान अब सूचीमा छैन। कृपया अर्डर फेरि पठाउनुहोस्।",
    },
    "quantity_not_positive": {
        "en": "Every quantity must be more than zero. Please send the order again.",
        "ne": "हरेक परिमाण शून्यभन्दा बढी हुनुपर्छ। कृपया अर्डर फेरि पठाउनुहोस्।",
    },
    "offer_price_not_positive": {
        "en": "An offer needs a total above zero, e.g. OFFER {ref} 4500 tomorrow",
        "ne": "प्रस्तावको जम्मा शून्यभन्दा बढी हुनुपर्छ, जस्तै: OFFER {ref} 4500 भोलि",
    },
    "delivery_too_late": {
        "en": "Delivery must be within {days} days. Send the offer again with an earlier day.",
        "ne": "डेलिभरी {days} दिनभित्र हुनुपर्छ। छिटोको दिन राखेर प्रस्ताव फेरि पठाउनुहोस्।",
    },
    "decision_conflict": {
        "en": "This order was decided at the same moment by someone else; nothing was changed. STATUS shows where it stands.",
        "ne": "यो अर्डर सोही बेला अरू कसैले निर्णय गर्‍यो; केही बदलिएन। STATUS ले अवस्था देखाउँछ।",
    },
    "offer_cannot_win": {
        "en": "That offer cannot win: it was passed, declined or belongs to another order.",
        "ne": "त्यो प्रस्ताव जित्न सक्दैन: छोडिएको, अस्वीकार गरिएको वा अर्कै अर्डरको हो।",
    },
    "link_closed": {
        "en": "This payment link is closed: {detail}. Send PAY for a new one.",
        "ne": "यो भुक्तानी लिङ्क बन्द भयो। नयाँ लिङ्कका लागि तिर्नु लेख्नुहोस्।",
    },
    "number_taken": {
        "en": "{number} is already registered with Thok for another shop or wholesaler.",
        "ne": "{number} नम्बर थोकमा अर्को पसल वा थोक विक्रेताको नाममा दर्ता छ।",
    },
    "csv_refused": {
        "en": "The price list was refused and nothing was imported: {detail}.",
        "ne": "मूल्य सूची अस्वीकार भयो, केही पनि राखिएन। फाइल जाँचेर फेरि पठाउनुहोस्।",
    },
    "stock_no_price": {
        "en": "You have no price for {sku} yet; send your price list to Thok first.",
        "ne": "{sku} को तपाईंको मूल्य अझै छैन; पहिले आफ्नो मूल्य सूची थोकलाई पठाउनुहोस्।",
    },
    "stock_below_reserved": {
        "en": "{reserved} of {sku} is reserved for orders; the stock cannot be less than that.",
        "ne": "{sku} को {reserved} अर्डरका लागि रोकिएको छ; स्टक त्योभन्दा कम हुन सक्दैन।",
    },
    "phone_invalid": {
        "en": "{number} is not a phone number Thok can use. Write the mobile number, e.g. 9841234567.",
        "ne": "{number} थोकले प्रयोग गर्न मिल्ने फोन नम्बर होइन। मोबाइल नम्बर लेख्नुहोस्, जस्तै: 9841234567।",
    },
    # An order that cannot make the move asked for: what was tried, and where the order stands.
    "illegal_transition": {
        "en": "Order {ref} cannot be {to} now: it is {state}. STATUS shows your orders.",
        "ne": "अर्डर {ref} अहिले {to} हुन सक्दैन: यो {state}। STATUS ले तपाईंका अर्डर देखाउँछ।",
    },
    "dispatch_before_accept": {
        "en": "{ref} is waiting for your ACCEPT: send ACCEPT {ref} first; it can be {to} after that.",
        "ne": "{ref} तपाईंको ACCEPT पर्खिरहेको छ: पहिले ACCEPT {ref} पठाउनुहोस्; स्वीकार गरेपछि मात्र {to} भनी दर्ता गर्न मिल्छ।",
    },
    "deliver_before_dispatch": {
        "en": "{ref} is not dispatched yet: send DISPATCHED {ref} when it leaves, then DELIVERED {ref} when it arrives.",
        "ne": "{ref} अझै पठाइएको छैन: सामान निस्किँदा DISPATCHED {ref}, पुगेपछि DELIVERED {ref} पठाउनुहोस्।",
    },
    "to_PENDING_OFFERS": {"en": "put back to offers", "ne": "फेरि प्रस्तावमा"},
    "to_WHOLESALER_SELECTED": {"en": "given a wholesaler", "ne": "थोक विक्रेतालाई दिइएको"},
    "to_CONFIRMED": {"en": "confirmed", "ne": "पक्का"},
    "to_DISPATCHED": {"en": "marked dispatched", "ne": "पठाइएको"},
    "to_DELIVERED": {"en": "marked delivered", "ne": "पुगेको"},
    "to_CANCELLED": {"en": "cancelled", "ne": "रद्द"},
    "to_EXPIRED": {"en": "expired", "ne": "म्याद सकिएको"},
    "to_REJECTED": {"en": "rejected", "ne": "अस्वीकार"},
    "order_withdrawn": {
        "en": "Order {ref} was cancelled before the offers closed: there is nothing to answer. Thank you!",
        "ne": "अर्डर {ref} प्रस्ताव समय सकिनुअघि नै रद्द भयो: जवाफ दिनु पर्दैन। धन्यवाद!",
    },
    # An admin's cancel tells both parties that Thok cancelled, and why (the admin's words).
    "order_cancelled_by_thok": {
        "en": "Thok cancelled your order {ref}: {reason}. Nothing is owed for it; any amount it added to your khata is taken off.",
        "ne": "थोकले तपाईंको अर्डर {ref} रद्द गर्‍यो: {reason}। यसको केही तिर्नु पर्दैन; खातामा थपिएको रकम घटाइयो।",
    },
    "order_cancelled_by_thok_wholesaler": {
        "en": "Thok cancelled order {ref}: {reason}. Please do not send it.",
        "ne": "थोकले अर्डर {ref} रद्द गर्‍यो: {reason}। कृपया नपठाउनुहोस्।",
    },
    # --- payments recorded by Thok (usecases.khata): the shop, and the wholesaler paid, are told ---
    "payment_received_thok": {
        "en": "Thok recorded your payment of NPR {amount} ({method}). Outstanding now: NPR {outstanding}.",
        "ne": "थोकले तपाईंको रु {amount} भुक्तानी दर्ता गर्‍यो ({method})। अब बाँकी: रु {outstanding}।",
    },
    "payment_recorded_wholesaler": {
        "en": "Thok recorded a payment of NPR {amount} from {retailer} to you ({method}). They now owe you NPR {outstanding}.",
        "ne": "{retailer} ले तपाईंलाई तिरेको रु {amount} भुक्तानी थोकले दर्ता गर्‍यो ({method})। अब तपाईंलाई तिर्न बाँकी रु {outstanding}।",
    },
}

LANGUAGES = ("en", "ne")
_DEVANAGARI = re.compile("[\u0900-\u097f]")
_LATIN = re.compile("[A-Za-z]")


def t(key: str, lang: str | None, **kw: str) -> str:
    entry = CATALOG[key]
    return entry.get(lang or "en", entry["en"]).format(**kw)


def both(key: str, **kw: str) -> str:
    """English then Nepali in one message, for people whose language we do not know yet."""
    return "\n\n".join(t(key, lang, **kw) for lang in LANGUAGES)


def reply_language(chosen: str | None, latest_text: str | None, default: str | None = None) -> str:
    """THE reply-language rule. A language the person chose themselves (`nepali` / `english`) wins;
    else the script of their latest message (any Devanagari letter means Nepali, any Latin letter
    English); else, for a message with no letters ("👍", "2") or one the bot starts, the default an
    admin, an import or the seed set; else English."""
    if chosen in LANGUAGES:
        return chosen  # type: ignore[return-value]
    text = latest_text or ""
    if _DEVANAGARI.search(text):
        return "ne"
    if _LATIN.search(text):
        return "en"
    return default if default in LANGUAGES else "en"  # type: ignore[return-value]


def numerals(text: str, lang: str | None) -> str:
    """Digits as the reader writes them: Devanagari for Nepali (domain.money, the one formatter)."""
    return digits_for(text, lang)


def money_for(amount: object, lang: str | None) -> str:
    """NPR for one reader, grouped in lakhs: 1,25,000 in English; १,२५,००० in Nepali."""
    return npr_for(amount, lang)
