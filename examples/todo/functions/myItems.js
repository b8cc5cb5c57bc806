// The caller's to-do items, read through the collection rules (each user sees only their own).
exports = async function () {
  const items = context.services.get('mongodb-atlas').db('todo').collection('items');
  return items.find({}, { title: 1, done: 1 }).sort({ _id: 1 }).limit(20).toArray();
};
