//! The 64 symbols of a safety number: Matrix's SAS emoji (its spec, "SAS method:
//! emoji"), chosen to be told apart at a glance and named alike in most languages.

/// Each symbol and the word people read it out as, one a line; the line number is the
/// 6-bit value. One string rather than an array of pairs: no table of 128 pointers.
const SYMBOLS: &str = "\
🐶 dog\n\
🐱 cat\n\
🦁 lion\n\
🐎 horse\n\
🦄 unicorn\n\
🐷 pig\n\
🐘 elephant\n\
🐰 rabbit\n\
🐼 panda\n\
🐓 rooster\n\
🐧 penguin\n\
🐢 turtle\n\
🐟 fish\n\
🐙 octopus\n\
🦋 butterfly\n\
🌷 flower\n\
🌳 tree\n\
🌵 cactus\n\
🍄 mushroom\n\
🌏 globe\n\
🌙 moon\n\
☁️ cloud\n\
🔥 fire\n\
🍌 banana\n\
🍎 apple\n\
🍓 strawberry\n\
🌽 corn\n\
🍕 pizza\n\
🎂 cake\n\
❤️ heart\n\
😀 smiley\n\
🤖 robot\n\
🎩 hat\n\
👓 glasses\n\
🔧 spanner\n\
🎅 santa\n\
👍 thumbs up\n\
☂️ umbrella\n\
⌛ hourglass\n\
⏰ clock\n\
🎁 gift\n\
💡 light bulb\n\
📕 book\n\
✏️ pencil\n\
📎 paperclip\n\
✂️ scissors\n\
🔒 lock\n\
🔑 key\n\
🔨 hammer\n\
☎️ telephone\n\
🏁 flag\n\
🚂 train\n\
🚲 bicycle\n\
✈️ aeroplane\n\
🚀 rocket\n\
🏆 trophy\n\
⚽ ball\n\
🎸 guitar\n\
🎺 trumpet\n\
🔔 bell\n\
⚓ anchor\n\
🎧 headphones\n\
📁 folder\n\
📌 pin";

/// The symbol for a 6-bit value and its word.
pub fn symbol(index: u8) -> (&'static str, &'static str) {
    SYMBOLS
        .lines()
        .nth(usize::from(index))
        .and_then(|line| line.split_once(' '))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_value_has_its_own_symbol_and_word() {
        let symbols: Vec<_> = (0..64).map(symbol).collect();
        assert_eq!(symbols[0], ("🐶", "dog"));
        assert_eq!(symbols[36], ("👍", "thumbs up"));
        assert_eq!(symbols[63], ("📌", "pin"));
        for (at, (emoji, word)) in symbols.iter().enumerate() {
            assert!(!emoji.is_empty() && !word.is_empty(), "{at}");
            let same = |other: &&(&str, &str)| other.0 == *emoji || other.1 == *word;
            assert_eq!(symbols.iter().filter(same).count(), 1, "{at}");
        }
        assert_eq!(SYMBOLS.lines().count(), 64);
    }
}
