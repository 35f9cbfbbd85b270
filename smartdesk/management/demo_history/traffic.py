"""The shape of the demo traffic: arrivals by hour and weekday, daily volumes, the operators'
shifts, the customers' names, and what customers write and operators answer."""

from __future__ import annotations

from zoneinfo import ZoneInfo

TZ = ZoneInfo("Europe/Moscow")
PREFIX = "hist"

# Arrivals per local hour (relative), and per weekday (Monday first).
HOUR_WEIGHTS = [
    0.3, 0.2, 0.15, 0.12, 0.12, 0.15, 0.3, 0.6, 1.0, 1.4, 1.6, 1.8,
    2.2, 2.3, 1.9, 1.6, 1.6, 1.9, 2.3, 2.6, 2.4, 1.8, 1.1, 0.6,
]  # fmt: skip
WEEKDAY_WEIGHTS = [1.0, 0.95, 0.95, 1.0, 1.15, 1.3, 1.2]
CHATS_PER_DAY = 12
CALLS_PER_DAY = 5
ORDERS_PER_DAY = 20
CUSTOMERS = 120
INCIDENT_DAYS_BACK = (6, 19)  # a day with a burst of complaints, when inside the history

# Operators' shifts, local hours [start, end) (end may pass midnight: 24 = midnight).
SHIFTS: dict[str, tuple[int, int]] = {
    "grigory": (0, 9),
    "anna": (8, 17),
    "diana": (9, 18),
    "boris": (11, 20),
    "vera": (15, 24),
}

FIRST_NAMES = [
    "Alexander", "Maria", "Dmitry", "Elena", "Sergey", "Olga", "Andrey", "Natalia",
    "Mikhail", "Tatiana", "Ivan", "Anastasia", "Nikolai", "Irina", "Pavel", "Ekaterina",
    "Kirill", "Yulia", "Artem", "Daria", "Emma", "James", "Lucas", "Sophie",
]  # fmt: skip
LAST_NAMES = [
    "Ivanov", "Smirnov", "Kuznetsov", "Popov", "Vasiliev", "Petrov", "Sokolov", "Mikhailov",
    "Novikov", "Fedorov", "Morozov", "Volkov", "Alekseev", "Lebedev", "Semenov", "Egorov",
    "Brown", "Miller", "Garcia", "Martin",
]  # fmt: skip

# What customers write, what operators answer (kind -> (customer texts, replies)).
TEXTS: dict[str, tuple[list[str], list[str]]] = {
    "where": (
        [
            "Где мой заказ? Обещали час назад.",
            "Курьер опаздывает, подскажите, когда будет?",
            "Where is my order? It's been an hour.",
        ],
        [
            "Проверили: курьер будет у вас через 15 минут.",
            "Sorry for the wait: the courier is 10 minutes away.",
        ],
    ),
    "menu": (
        [
            "Есть ли у вас роллы без кунжута?",
            "Можно заменить соус в пицце?",
            "Do you have vegetarian options?",
            "Какие десерты без орехов?",
        ],
        [
            "Да, конечно: отметим это в заказе.",
            "Yes: the avocado roll and the margherita are vegetarian.",
            "Без орехов: моти с манго и чизкейк.",
        ],
    ),
    "account": (
        [
            "Не начислились баллы за последний заказ.",
            "Как поменять адрес доставки?",
            "How do I use my loyalty points?",
        ],
        [
            "Баллы начисляются через час после доставки: уже на счёте.",
            "Адрес меняется в профиле, в разделе «Адреса».",
            "At checkout, tick 'pay with points'.",
        ],
    ),
    "complaint": (
        [
            "Заказ пришёл холодным, хочу вернуть деньги.",
            "Привезли не тот заказ!",
            "The food arrived cold and an hour late.",
            "Курьер нагрубил, это недопустимо.",
        ],
        [
            "Простите, пожалуйста: вернём деньги за заказ в течение дня.",
            "We're very sorry: a full refund is on its way.",
            "Приносим извинения: передали жалобу руководителю службы доставки.",
        ],
    ),
}
FOLLOW_UPS = ["Спасибо!", "Thanks, that helps.", "Хорошо, жду.", "Понятно, спасибо."]
