"""Word lists for plausible French and German company, person and supplier names.

Kept as plain tuples so the generator stays deterministic and dependency-free.
"""

from __future__ import annotations

FR_STEMS = (
    "Boulangerie Martin", "Transports Lefèvre", "Atelier Dubois", "Garage Moreau", "Menuiserie Laurent",
    "Imprimerie Simon", "Pharmacie Michel", "Cabinet Garnier", "Optique Faure", "Bâtiment Rousseau",
    "Élec Blanc", "Plomberie Guérin", "Traiteur Muller", "Fromagerie Henry", "Librairie Roussel",
    "Informatique Nicolas", "Conseil Perrin", "Logistique Morin", "Menuiserie Mathieu", "Agence Clément",
    "Cave Gauthier", "Froid Dumont", "Textile Lopez", "Studio Fontaine", "Ingénierie Chevalier",
    "Paysages Robin", "Sécurité Masson", "Nettoyage Sanchez", "Bureautique Gérard", "Énergies Nguyen",
    "Hôtel du Lac", "Domaine des Chênes", "Brasserie de l'Écluse", "Verrerie Lambert", "Maison Bonnet",
    "Chaudronnerie François", "Scierie Martinez", "Laboratoires Legrand", "Éditions Garnier", "Auto-École Roux",
    "Distribution Picard", "Métallerie Lemoine", "Horticulture Arnaud", "Carrosserie Renaud", "Climatisation Vidal",
    "Pâtisserie Caron", "Architectes Aubert", "Transports Giraud", "Toiture Mercier", "Solutions Boyer",
)
FR_CITIES = (
    ("Paris", "75008"), ("Lyon", "69002"), ("Marseille", "13001"), ("Toulouse", "31000"), ("Nantes", "44000"),
    ("Bordeaux", "33000"), ("Lille", "59000"), ("Rennes", "35000"), ("Strasbourg", "67000"), ("Grenoble", "38000"),
    ("Montpellier", "34000"), ("Dijon", "21000"), ("Angers", "49000"), ("Reims", "51100"), ("Tours", "37000"),
)
FR_FORMS = ("SAS", "SARL", "SA", "EURL")
FR_FORM_WEIGHTS = (45, 35, 10, 10)

DE_STEMS = (
    "Müller Maschinenbau", "Schmidt Logistik", "Schneider Elektrotechnik", "Fischer Bau", "Weber Werkzeuge",
    "Meyer Metallbau", "Wagner Haustechnik", "Becker Druck", "Schulz Software", "Hoffmann Holzbau",
    "Schäfer Spedition", "Koch Feinkost", "Bauer Landtechnik", "Richter Beratung", "Klein Kältetechnik",
    "Wolf Verpackungen", "Schröder Sanitär", "Neumann Medizintechnik", "Schwarz Automotive", "Zimmermann Stahl",
    "Braun Möbelwerk", "Krüger Gebäudereinigung", "Hofmann Optik", "Hartmann Elektronik", "Lange Textil",
    "Schmitt Brauerei", "Werner Fenster", "Krause Kunststoff", "Meier Dach", "Lehmann Gartenbau",
    "Schmid Präzision", "Schulze Messtechnik", "Maier Agrar", "Köhler Glas", "Herrmann Pumpen",
    "König Hotelbedarf", "Walter Antriebe", "Mayer Lacke", "Huber Immobilien", "Kaiser Sicherheit",
    "Fuchs Fördertechnik", "Peters Events", "Lang Kfz-Teile", "Scholz Akustik", "Möller Kühlhaus",
    "Weiß Labortechnik", "Jung Energie", "Hahn Papier", "Vogel Reisen", "Friedrich Armaturen",
)
DE_CITIES = (
    ("Berlin", "10115"), ("Hamburg", "20095"), ("München", "80331"), ("Köln", "50667"), ("Frankfurt am Main", "60311"),
    ("Stuttgart", "70173"), ("Düsseldorf", "40213"), ("Leipzig", "04109"), ("Dortmund", "44135"), ("Essen", "45127"),
    ("Bremen", "28195"), ("Dresden", "01067"), ("Hannover", "30159"), ("Nürnberg", "90402"), ("Mannheim", "68159"),
)
DE_FORMS = ("GmbH", "AG", "KG", "GmbH & Co. KG")
DE_FORM_WEIGHTS = (55, 10, 10, 25)

FR_PARENT_FORMS = ("Groupe {stem} SA", "{stem} Holding SAS", "Financière {stem} SAS")
DE_PARENT_FORMS = ("{stem} Holding GmbH", "{stem} Gruppe AG", "{stem} Beteiligungs GmbH")

FR_OWNERS = ("Claire Bernard", "Julien Petit", "Sophie Durand", "Thomas Leroy", "Camille Fournier")
DE_OWNERS = ("Anna Keller", "Jonas Brandt", "Lena Vogt", "Felix Sommer", "Marie Engel")

FR_SUPPLIERS = ("EDF Entreprises", "Orange Business", "URSSAF Île-de-France", "Loyer SCI Les Tilleuls", "Fournitures Lyreco",
                "Transports Géodis", "Axa Assurances", "OVH Cloud")
DE_SUPPLIERS = ("Stadtwerke München", "Telekom Deutschland", "Finanzamt München", "Vermietung Lindenhof GbR",
                "Büro Kaiser GmbH", "DB Schenker", "Allianz Versicherung", "Hetzner Online")

FIRST_NAMES = ("Marie", "Pierre", "Anne", "Luc", "Julia", "Stefan", "Nicolas", "Sabine", "Olivier", "Katrin")
