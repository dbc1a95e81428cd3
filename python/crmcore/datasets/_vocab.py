"""Word lists behind the synthetic CRM: names, places, companies, products.

Plain data, kept apart from the generator so the generator reads as logic.
Weights are rough real-world frequencies (surnames follow the Chinese census
order, so the first entries are far more common than the last).
"""

# (character(s), pinyin) in roughly descending frequency.
CN_SURNAMES = [
    ("王", "wang"), ("李", "li"), ("张", "zhang"), ("刘", "liu"), ("陈", "chen"),
    ("杨", "yang"), ("黄", "huang"), ("赵", "zhao"), ("吴", "wu"), ("周", "zhou"),
    ("徐", "xu"), ("孙", "sun"), ("马", "ma"), ("朱", "zhu"), ("胡", "hu"),
    ("郭", "guo"), ("何", "he"), ("高", "gao"), ("林", "lin"), ("罗", "luo"),
    ("郑", "zheng"), ("梁", "liang"), ("谢", "xie"), ("宋", "song"), ("唐", "tang"),
    ("许", "xu"), ("韩", "han"), ("冯", "feng"), ("邓", "deng"), ("曹", "cao"),
    ("彭", "peng"), ("曾", "zeng"), ("肖", "xiao"), ("田", "tian"), ("董", "dong"),
    ("袁", "yuan"), ("潘", "pan"), ("于", "yu"), ("蒋", "jiang"), ("蔡", "cai"),
    ("余", "yu"), ("杜", "du"), ("叶", "ye"), ("程", "cheng"), ("苏", "su"),
    ("魏", "wei"), ("吕", "lv"), ("丁", "ding"), ("任", "ren"), ("沈", "shen"),
    ("姚", "yao"), ("卢", "lu"), ("姜", "jiang"), ("崔", "cui"), ("钟", "zhong"),
    ("谭", "tan"), ("陆", "lu"), ("汪", "wang"), ("范", "fan"), ("金", "jin"),
    ("石", "shi"), ("廖", "liao"), ("贾", "jia"), ("夏", "xia"), ("韦", "wei"),
    ("付", "fu"), ("方", "fang"), ("白", "bai"), ("邹", "zou"), ("孟", "meng"),
    ("熊", "xiong"), ("秦", "qin"), ("邱", "qiu"), ("江", "jiang"), ("尹", "yin"),
    ("薛", "xue"), ("闫", "yan"), ("段", "duan"), ("雷", "lei"), ("侯", "hou"),
    ("龙", "long"), ("史", "shi"), ("陶", "tao"), ("黎", "li"), ("贺", "he"),
    ("顾", "gu"), ("毛", "mao"), ("郝", "hao"), ("龚", "gong"), ("邵", "shao"),
    ("万", "wan"), ("钱", "qian"), ("严", "yan"), ("武", "wu"), ("戴", "dai"),
    ("莫", "mo"), ("孔", "kong"), ("向", "xiang"), ("欧阳", "ouyang"),
    ("司马", "sima"), ("上官", "shangguan"), ("诸葛", "zhuge"),
]

CN_GIVEN = [
    ("伟", "wei"), ("芳", "fang"), ("娜", "na"), ("敏", "min"), ("静", "jing"),
    ("丽", "li"), ("强", "qiang"), ("磊", "lei"), ("军", "jun"), ("洋", "yang"),
    ("勇", "yong"), ("艳", "yan"), ("杰", "jie"), ("娟", "juan"), ("涛", "tao"),
    ("明", "ming"), ("超", "chao"), ("秀", "xiu"), ("霞", "xia"), ("平", "ping"),
    ("刚", "gang"), ("桂", "gui"), ("英", "ying"), ("华", "hua"), ("文", "wen"),
    ("建", "jian"), ("国", "guo"), ("志", "zhi"), ("红", "hong"), ("玲", "ling"),
    ("梅", "mei"), ("鹏", "peng"), ("辉", "hui"), ("宇", "yu"), ("浩", "hao"),
    ("晨", "chen"), ("欣", "xin"), ("怡", "yi"), ("雨", "yu"), ("婷", "ting"),
    ("晓", "xiao"), ("俊", "jun"), ("飞", "fei"), ("鑫", "xin"), ("斌", "bin"),
    ("波", "bo"), ("宁", "ning"), ("琳", "lin"), ("颖", "ying"), ("倩", "qian"),
    ("佳", "jia"), ("嘉", "jia"), ("思", "si"), ("博", "bo"), ("子", "zi"),
    ("轩", "xuan"), ("涵", "han"), ("梓", "zi"), ("睿", "rui"), ("诗", "shi"),
    ("悦", "yue"), ("然", "ran"), ("天", "tian"), ("一", "yi"), ("泽", "ze"),
    ("昊", "hao"), ("成", "cheng"), ("海", "hai"), ("云", "yun"), ("凯", "kai"),
    ("峰", "feng"), ("琴", "qin"), ("兰", "lan"), ("燕", "yan"), ("春", "chun"),
    ("雪", "xue"), ("慧", "hui"), ("丹", "dan"), ("萍", "ping"), ("东", "dong"),
    ("松", "song"), ("亮", "liang"), ("健", "jian"), ("德", "de"), ("新", "xin"),
    ("彬", "bin"), ("岩", "yan"), ("振", "zhen"), ("安", "an"), ("晶", "jing"),
    ("蕾", "lei"), ("薇", "wei"), ("璐", "lu"), ("瑶", "yao"), ("琪", "qi"),
    ("宏", "hong"), ("毅", "yi"), ("光", "guang"), ("正", "zheng"), ("永", "yong"),
    ("坤", "kun"), ("阳", "yang"), ("帆", "fan"), ("航", "hang"), ("翔", "xiang"),
    ("哲", "zhe"), ("锋", "feng"), ("家", "jia"), ("欢", "huan"), ("玉", "yu"),
]

LATIN_FIRST = [
    "James", "Mary", "John", "Patricia", "Robert", "Jennifer", "Michael", "Linda",
    "William", "Elizabeth", "David", "Barbara", "Richard", "Susan", "Joseph",
    "Jessica", "Thomas", "Sarah", "Charles", "Karen", "Daniel", "Nancy", "Matthew",
    "Lisa", "Anthony", "Emma", "Olivia", "Noah", "Liam", "Sophia", "Lucas", "Mia",
    "Oliver", "Charlotte", "Hugo", "Léa", "Chloé", "Lukas", "Anna", "Marco",
    "Giulia", "Sofia", "Mateo", "Lucía", "Pierre", "Marie", "Jan", "Eva", "Ahmed",
    "Fatima", "Ivan", "Olga", "Kenji", "Yuki", "Priya", "Arjun", "Grace", "Henry",
]

LATIN_LAST = [
    "Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis",
    "Rodriguez", "Martinez", "Wilson", "Anderson", "Taylor", "Thomas", "Moore",
    "Martin", "Jackson", "Lee", "Thompson", "White", "Harris", "Clark", "Lewis",
    "Walker", "Hall", "Young", "King", "Wright", "Müller", "Schmidt", "Schneider",
    "Fischer", "Weber", "Dubois", "Moreau", "Laurent", "Bernard", "Rossi", "Russo",
    "Ferrari", "Bianchi", "García", "Fernández", "López", "Novak", "Kowalski",
    "Nielsen", "Jensen", "Tanaka", "Sato", "Suzuki", "Kumar", "Singh", "Patel",
    "O'Brien", "Murphy", "Kelly", "Evans",
]

# (region, city, chinese city name, country code, area code without trunk
#  prefix, trunk prefix, local digits split as (a, b), districts, weight)
CITIES = [
    ("East China", "Shanghai", "上海", "86", "21", "0", (4, 4), ["浦东新区", "徐汇区", "静安区", "闵行区"], 10),
    ("East China", "Hangzhou", "杭州", "86", "571", "0", (4, 4), ["西湖区", "滨江区", "余杭区"], 5),
    ("East China", "Nanjing", "南京", "86", "25", "0", (4, 4), ["鼓楼区", "玄武区", "江宁区"], 4),
    ("East China", "Suzhou", "苏州", "86", "512", "0", (4, 4), ["姑苏区", "工业园区", "吴中区"], 4),
    ("North China", "Beijing", "北京", "86", "10", "0", (4, 4), ["朝阳区", "海淀区", "东城区", "丰台区"], 10),
    ("North China", "Tianjin", "天津", "86", "22", "0", (4, 4), ["和平区", "南开区", "滨海新区"], 4),
    ("North China", "Shijiazhuang", "石家庄", "86", "311", "0", (4, 4), ["长安区", "桥西区"], 2),
    ("South China", "Guangzhou", "广州", "86", "20", "0", (4, 4), ["天河区", "越秀区", "海珠区"], 7),
    ("South China", "Shenzhen", "深圳", "86", "755", "0", (4, 4), ["南山区", "福田区", "宝安区", "龙岗区"], 8),
    ("South China", "Xiamen", "厦门", "86", "592", "0", (3, 4), ["思明区", "湖里区"], 2),
    ("Central China", "Wuhan", "武汉", "86", "27", "0", (4, 4), ["江汉区", "武昌区", "洪山区"], 4),
    ("Central China", "Changsha", "长沙", "86", "731", "0", (4, 4), ["岳麓区", "芙蓉区"], 3),
    ("Central China", "Zhengzhou", "郑州", "86", "371", "0", (4, 4), ["金水区", "二七区"], 3),
    ("Southwest", "Chengdu", "成都", "86", "28", "0", (4, 4), ["锦江区", "武侯区", "高新区"], 5),
    ("Southwest", "Chongqing", "重庆", "86", "23", "0", (4, 4), ["渝中区", "江北区", "南岸区"], 4),
    ("Southwest", "Kunming", "昆明", "86", "871", "0", (4, 4), ["五华区", "盘龙区"], 2),
    ("Northwest", "Xi'an", "西安", "86", "29", "0", (4, 4), ["雁塔区", "碑林区", "未央区"], 3),
    ("Northwest", "Lanzhou", "兰州", "86", "931", "0", (4, 4), ["城关区", "七里河区"], 1),
    ("Northeast", "Shenyang", "沈阳", "86", "24", "0", (4, 4), ["和平区", "沈河区"], 2),
    ("Northeast", "Harbin", "哈尔滨", "86", "451", "0", (4, 4), ["南岗区", "道里区"], 2),
    ("Northeast", "Dalian", "大连", "86", "411", "0", (4, 4), ["中山区", "甘井子区"], 2),
    ("North America", "New York", "New York, NY", "1", "212", "", (3, 4), ["10001", "10016", "10022"], 4),
    ("North America", "San Francisco", "San Francisco, CA", "1", "415", "", (3, 4), ["94103", "94107", "94110"], 3),
    ("North America", "Chicago", "Chicago, IL", "1", "312", "", (3, 4), ["60601", "60605", "60614"], 2),
    ("North America", "Toronto", "Toronto, ON", "1", "416", "", (3, 4), ["M5V 2T6", "M4W 1A8"], 2),
    ("Europe", "London", "London", "44", "20", "0", (4, 4), ["EC1A 1BB", "SW1A 2AA", "E14 5AB"], 4),
    ("Europe", "Manchester", "Manchester", "44", "161", "0", (3, 4), ["M1 1AE", "M4 5JD"], 2),
    ("Europe", "Edinburgh", "Edinburgh", "44", "131", "0", (3, 4), ["EH1 1YZ", "EH3 9WJ"], 1),
]

# Prefixes of Chinese mobile numbers (the carriers' real blocks).
CN_MOBILE_PREFIXES = [
    "130", "131", "132", "133", "135", "136", "137", "138", "139", "150", "151",
    "152", "153", "155", "156", "157", "158", "159", "166", "177", "180", "181",
    "182", "183", "185", "186", "187", "188", "189", "191", "198", "199",
]

CN_ROADS = [
    "人民路", "中山路", "解放路", "建设路", "长江路", "和平路", "新华路", "科技路",
    "文化路", "东风路", "迎宾大道", "滨江大道", "世纪大道", "学府路", "创业路",
]
CN_BUILDINGS = ["国际大厦", "科技园", "中心广场", "创业大厦", "金融中心", "商务楼", ""]
LATIN_STREETS = [
    "Main St", "Oak Ave", "Market St", "King St", "High St", "Park Rd", "Church St",
    "Mill Lane", "Elm St", "Station Rd", "Broadway", "Queen St", "Bridge Rd",
]

# (industry, chinese word in company names, latin word, share of organizations)
INDUSTRIES = [
    ("technology", "科技", "Technologies", 14),
    ("trading", "贸易", "Trading", 12),
    ("electronics", "电子", "Electronics", 9),
    ("logistics", "物流", "Logistics", 7),
    ("food", "食品", "Foods", 7),
    ("healthcare", "医药", "Pharma", 6),
    ("construction", "建材", "Building Materials", 6),
    ("media", "文化传媒", "Media", 5),
    ("education", "教育咨询", "Education", 5),
    ("manufacturing", "机械制造", "Manufacturing", 10),
    ("energy", "新能源", "Energy", 5),
    ("retail", "商贸", "Retail", 8),
    ("apparel", "服饰", "Apparel", 4),
    ("hospitality", "餐饮管理", "Hospitality", 2),
]

CN_BRANDS = [
    ("华创", "huachuang"), ("瑞丰", "ruifeng"), ("鼎盛", "dingsheng"), ("恒通", "hengtong"),
    ("博远", "boyuan"), ("中科", "zhongke"), ("金源", "jinyuan"), ("天润", "tianrun"),
    ("新元", "xinyuan"), ("宏达", "hongda"), ("信诚", "xincheng"), ("嘉禾", "jiahe"),
    ("远航", "yuanhang"), ("星辰", "xingchen"), ("云海", "yunhai"), ("智联", "zhilian"),
    ("明德", "mingde"), ("汇通", "huitong"), ("永泰", "yongtai"), ("立信", "lixin"),
    ("东方", "dongfang"), ("盛世", "shengshi"), ("致远", "zhiyuan"), ("卓越", "zhuoyue"),
    ("安信", "anxin"), ("百川", "baichuan"), ("海纳", "haina"), ("九州", "jiuzhou"),
    ("华信", "huaxin"), ("同创", "tongchuang"), ("启明", "qiming"), ("锦程", "jincheng"),
    ("正泰", "zhengtai"), ("银河", "yinhe"), ("长青", "changqing"), ("万象", "wanxiang"),
]
CN_COMPANY_SUFFIXES = ["有限公司", "有限公司", "有限公司", "股份有限公司", "有限责任公司"]

LATIN_BRANDS = [
    "Summit", "Bluewater", "Northwind", "Evergreen", "Pioneer", "Silverline",
    "Redwood", "Harbor", "Keystone", "Crescent", "Atlas", "Horizon", "Granite",
    "Maple", "Orion", "Vertex", "Lakeside", "Sterling", "Beacon", "Cobalt",
    "Riverbend", "Ironwood", "Clearpoint", "Bright Path",
]
LATIN_COMPANY_SUFFIXES = ["Inc.", "Ltd", "LLC", "GmbH", "Co.", "Group", "plc"]

PERSON_EMAIL_DOMAINS_CN = ["qq.com", "163.com", "126.com", "sina.com", "foxmail.com", "139.com", "outlook.com"]
PERSON_EMAIL_DOMAINS_LATIN = ["gmail.com", "yahoo.com", "outlook.com", "hotmail.co.uk", "icloud.com", "proton.me"]
ORG_MAILBOXES = ["info", "sales", "contact", "service", "purchasing", "admin"]

CONTACT_TITLES = [
    "General Manager", "Purchasing Manager", "Procurement Specialist", "CFO",
    "Operations Director", "IT Manager", "Office Manager", "Sales Director",
    "Engineer", "Project Manager", "Assistant", "CEO",
]
CONTACT_PREFERENCES = [
    "phone", "email", "wechat", "phone; no calls after 18:00", "email only",
    "wechat; prefers voice messages", "visit by appointment", "sms",
]

# (category, price median, price spread (lognormal sigma), mean margin, names)
PRODUCT_CATEGORIES = [
    ("Electronics", 900.0, 0.8, 0.18, ["Laptop", "Monitor", "Tablet", "Router", "Headset", "Projector"]),
    ("Office Supplies", 40.0, 0.7, 0.35, ["Printer Paper", "Toner", "Stapler", "Notebook Set", "Desk Organizer"]),
    ("Software", 600.0, 0.9, 0.80, ["License", "Subscription", "Cloud Plan", "Security Suite"]),
    ("Services", 1500.0, 0.7, 0.45, ["Installation", "Training Day", "Support Plan", "Consulting Hour"]),
    ("Furniture", 450.0, 0.6, 0.30, ["Office Chair", "Standing Desk", "Cabinet", "Meeting Table"]),
    ("Consumables", 25.0, 0.6, 0.40, ["Coffee Beans", "Cleaning Kit", "Batteries", "Ink Cartridge"]),
    ("Home Appliances", 300.0, 0.7, 0.22, ["Air Purifier", "Rice Cooker", "Kettle", "Vacuum Cleaner"]),
    ("Apparel", 80.0, 0.6, 0.55, ["T-Shirt", "Jacket", "Sneakers", "Backpack"]),
]
PRODUCT_MODELS = ["Lite", "Pro", "Max", "Plus", "Mini", "X", "S", "Air", "Classic", "2024", "Eco"]

STAFF_DEPARTMENTS = [
    # (department, share, titles, teams)
    ("Sales", 0.55, ["Account Manager", "Sales Representative", "Key Account Manager"], ["East", "North", "South", "West", "International"]),
    ("Customer Service", 0.28, ["Service Agent", "Support Engineer", "Service Specialist"], ["Hotline", "After-sales", "Online"]),
    ("Marketing", 0.12, ["Marketing Specialist", "Campaign Manager", "Content Editor"], ["Brand", "Digital", "Events"]),
    ("Management", 0.05, ["Director", "Vice President"], ["Leadership"]),
]

INTERACTION_SUMMARIES = {
    "call": ["Called about order status", "Quoted price for renewal", "Follow-up call after delivery", "Discussed new requirements", "电话回访，客户满意"],
    "visit": ["On-site visit, product demo", "Visited to review contract", "Quarterly business review", "上门拜访，介绍新产品"],
    "email": ["Sent quotation", "Sent invoice copy", "Answered product question by email", "Sent meeting notes"],
    "message": ["WeChat: asked about delivery time", "SMS reminder about promotion", "微信咨询价格", "Chat: return request"],
    "meeting": ["Negotiation meeting", "Kick-off meeting", "Annual planning meeting", "Technical workshop"],
    "note": ["Customer prefers morning calls", "Budget approved for next quarter", "Key contact changed", "客户对价格敏感"],
}
INTERACTION_OUTCOMES = ["positive", "neutral", "negative", "no_answer", "follow_up"]
NEXT_STEPS = ["send quote", "schedule demo", "call back next week", "none", "prepare contract", "escalate to manager"]

TICKET_CATEGORIES = ["delivery", "quality", "billing", "technical", "account", "refund", "installation"]
TICKET_RESOLUTIONS = ["replaced item", "refund issued", "explained usage", "fixed remotely", "on-site repair", "invoice corrected", "no fault found"]
SURVEY_COMMENTS = {
    1: ["Very disappointed", "服务太慢", "Nobody called me back"],
    2: ["Slow response", "Product broke quickly", "价格偏高"],
    3: ["OK", "Average experience", "还可以"],
    4: ["Good service", "Quick delivery", "服务不错"],
    5: ["Excellent, thank you!", "非常满意", "Best supplier we have"],
}

CAMPAIGN_THEMES = [
    # (name, channel, month, day, length in days, budget scale)
    ("New Year Sale", "email", 1, 2, 14, 1.0),
    ("Spring Festival Greetings", "sms", 2, 1, 10, 0.5),
    ("Spring Launch", "event", 3, 15, 21, 2.0),
    ("618 Mid-Year Promotion", "wechat", 6, 1, 18, 2.5),
    ("Summer Webinar Series", "webinar", 7, 10, 30, 0.8),
    ("Back to Office", "email", 9, 1, 21, 1.0),
    ("Double 11", "wechat", 11, 1, 11, 3.0),
    ("Black Friday", "ads", 11, 20, 10, 2.0),
    ("Year-End Customer Care", "phone", 12, 10, 20, 1.2),
]
CAMPAIGN_RESPONSES = ["clicked", "registered", "purchased", "replied", "unsubscribed"]

TASK_SUBJECTS = [
    "Follow up on quote", "Send contract draft", "Call about renewal", "Prepare demo",
    "Collect overdue payment", "Birthday greeting", "Holiday greeting", "回访客户",
    "Resolve open ticket", "Update contact details",
]
