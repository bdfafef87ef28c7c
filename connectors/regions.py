"""French metropolitan regions (2016 map): departments, main towns and the names posts use for them.

One gazetteer for everything that places a post or a policy: `region_of_postcode` for the
policy register's addresses, `region_of_place` for a post's place (`Lyon, France`) or its
author's free-text location (`Straßburg`, `Bordeaux 🍷`, `IDF`).
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

REGION_DEPARTMENTS: dict[str, tuple[str, ...]] = {
    "Auvergne-Rhône-Alpes": ("01", "03", "07", "15", "26", "38", "42", "43", "63", "69", "73", "74"),
    "Bourgogne-Franche-Comté": ("21", "25", "39", "58", "70", "71", "89", "90"),
    "Bretagne": ("22", "29", "35", "56"),
    "Centre-Val de Loire": ("18", "28", "36", "37", "41", "45"),
    "Corse": ("2A", "2B", "20"),
    "Grand Est": ("08", "10", "51", "52", "54", "55", "57", "67", "68", "88"),
    "Hauts-de-France": ("02", "59", "60", "62", "80"),
    "Île-de-France": ("75", "77", "78", "91", "92", "93", "94", "95"),
    "Normandie": ("14", "27", "50", "61", "76"),
    "Nouvelle-Aquitaine": ("16", "17", "19", "23", "24", "33", "40", "47", "64", "79", "86", "87"),
    "Occitanie": ("09", "11", "12", "30", "31", "32", "34", "46", "48", "65", "66", "81", "82"),
    "Pays de la Loire": ("44", "49", "53", "72", "85"),
    "Provence-Alpes-Côte d'Azur": ("04", "05", "06", "13", "83", "84"),
}
REGIONS: tuple[str, ...] = tuple(REGION_DEPARTMENTS)

# Towns people name in posts, with their other spellings (German, English, local nicknames).
REGION_TOWNS: dict[str, tuple[str, ...]] = {
    "Auvergne-Rhône-Alpes": ("Lyon", "Grenoble", "Saint-Étienne", "Clermont-Ferrand", "Annecy", "Chambéry",
                             "Valence", "Villeurbanne", "Lyons"),
    "Bourgogne-Franche-Comté": ("Dijon", "Besançon", "Mâcon", "Auxerre", "Belfort", "Nevers"),
    "Bretagne": ("Rennes", "Brest", "Quimper", "Vannes", "Saint-Malo", "Lorient"),
    "Centre-Val de Loire": ("Orléans", "Tours", "Bourges", "Chartres", "Blois"),
    "Corse": ("Ajaccio", "Bastia", "Corsica", "Korsika"),
    "Grand Est": ("Strasbourg", "Straßburg", "Strassburg", "Metz", "Nancy", "Reims", "Mulhouse", "Colmar",
                  "Troyes", "Alsace", "Elsass", "Lothringen"),
    "Hauts-de-France": ("Lille", "Amiens", "Roubaix", "Tourcoing", "Dunkerque", "Calais", "Arras"),
    "Île-de-France": ("Paris", "Boulogne-Billancourt", "Montreuil", "Versailles", "Saint-Denis", "Vincennes",
                      "Neuilly-sur-Seine", "IDF", "Île-de-France"),
    "Normandie": ("Rouen", "Caen", "Le Havre", "Cherbourg", "Évreux"),
    "Nouvelle-Aquitaine": ("Bordeaux", "Limoges", "Poitiers", "Pau", "La Rochelle", "Angoulême", "Périgueux",
                           "Niort", "Biarritz"),
    "Occitanie": ("Toulouse", "Montpellier", "Nîmes", "Perpignan", "Béziers", "Rodez", "Foix", "Albi"),
    "Pays de la Loire": ("Nantes", "Angers", "Le Mans", "Saint-Nazaire", "La Roche-sur-Yon", "Laval"),
    "Provence-Alpes-Côte d'Azur": ("Marseille", "Nice", "Toulon", "Avignon", "Aix-en-Provence", "Cannes", "Gap",
                                   "Marseilles", "Nizza"),
}


def _fold(text: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFKD", text.casefold()) if not unicodedata.combining(c))


_DEPT_REGION = {d: r for r, ds in REGION_DEPARTMENTS.items() for d in ds}
_REGION_OF_NAME = {_fold(name): region for region, towns in REGION_TOWNS.items() for name in (*towns, region)}
# One alternation, longest names first ("Saint-Étienne" before "Saint"), so a location is read in one pass.
_NAMES = re.compile(r"(?<!\w)(" + "|".join(re.escape(n) for n in sorted(_REGION_OF_NAME, key=len, reverse=True))
                    + r")(?!\w)")
_POSTCODE = re.compile(r"(?<!\d)(\d{5})(?!\d)")


def region_of_postcode(postcode: str) -> str | None:
    """The region of a French postcode (`69003` -> Auvergne-Rhône-Alpes); Corsica's 20xxx included."""
    if not postcode or len(postcode) != 5 or not postcode.isdigit():
        return None
    return _DEPT_REGION.get(postcode[:2])


def region_of_address(address: str | None) -> str | None:
    """The region of a French postal address, from its postcode."""
    m = _POSTCODE.search(address or "")
    return region_of_postcode(m.group(1)) if m else None


@lru_cache(maxsize=65536)
def region_of_place(text: str | None) -> str | None:
    """The region a place name or free-text location names, or None when it names none (or several)."""
    if not text:
        return None
    found = {_REGION_OF_NAME[m.group(1)] for m in _NAMES.finditer(_fold(text))}
    return found.pop() if len(found) == 1 else None
